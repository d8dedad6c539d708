package nats

import (
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/wsserver/wsserver/cluster"
	"github.com/wsserver/wsserver/cluster/clustertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A server's event loops stop about a second after their last connection.
		goleak.IgnoreAnyFunction("github.com/wsserver/wsserver/internal/transport.(*poller).loop"),
		// nats-server's process-wide helpers.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).startMemoryPressureMonitor.func1"),
	)
}

// swapServer is an in-process connection provider whose server can be
// replaced, so that a restarted embedded server takes the client back.
type swapServer struct{ p atomic.Pointer[server.Server] }

func (s *swapServer) InProcessConn() (net.Conn, error) { return s.p.Load().InProcessConn() }

// natsCluster is n embedded nats-servers joined by routes on loopback ports
// the OS picked, each with an engine connected in-process.
type natsCluster struct {
	servers []*swapServer
	listen  []string // each server's cluster address
}

func startCluster(t *testing.T, n int) (*natsCluster, []cluster.Engine) {
	t.Helper()
	c := &natsCluster{}
	var engines []cluster.Engine
	for i := range n {
		cfg := ServerConfig{Name: "s" + strconv.Itoa(i+1), ClusterListen: "127.0.0.1:0"}
		if i > 0 {
			cfg.Routes = []string{c.listen[0]}
		}
		ns, err := StartServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		sw := &swapServer{}
		sw.p.Store(ns)
		c.servers = append(c.servers, sw)
		c.listen = append(c.listen, ns.ClusterAddr().String())
		t.Cleanup(func() {
			s := sw.p.Load()
			s.Shutdown()
			s.WaitForShutdown()
		})
		e, err := New(Options{URL: ns.ClientURL(), InProcess: sw, ReconnectWait: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, e)
	}
	c.waitRoutes(t)
	return c, engines
}

// waitRoutes waits until every live server has a route to every other, as
// nats-server's own tests check that a cluster has formed.
func (c *natsCluster) waitRoutes(t *testing.T) {
	t.Helper()
	clustertest.WaitFor(t, "routes between the embedded servers", func() bool {
		live := 0
		for _, s := range c.servers {
			if s.p.Load().Running() {
				live++
			}
		}
		for _, s := range c.servers {
			if ns := s.p.Load(); ns.Running() && ns.NumRoutes() != live-1 {
				return false
			}
		}
		return true
	})
}

// TestNATSEmbeddedCluster runs the cluster suite (issue 13's Tests) on three
// embedded nats-servers joined by routes: broadcast, topics, remote Send and
// Disconnect, presence, a slow subscriber, one server stopped and restarted
// (the client reconnects and resubscribes), and one stopped for good.
func TestNATSEmbeddedCluster(t *testing.T) {
	var nc *natsCluster
	clustertest.Run(t, clustertest.Setup{
		Engines: func(t *testing.T, n int) []cluster.Engine {
			var engines []cluster.Engine
			nc, engines = startCluster(t, n)
			return engines
		},
		Cut: func(t *testing.T, i int) {
			ns := nc.servers[i].p.Load()
			ns.Shutdown()
			ns.WaitForShutdown()
		},
		Restore: func(t *testing.T, i int) {
			var routes []string
			for j, addr := range nc.listen {
				if j != i {
					routes = append(routes, addr)
				}
			}
			ns, err := StartServer(ServerConfig{Name: "s" + strconv.Itoa(i+1) + "b", ClusterListen: nc.listen[i], Routes: routes})
			if err != nil {
				t.Fatal(err)
			}
			nc.servers[i].p.Store(ns)
			nc.waitRoutes(t)
		},
		Kill: func(t *testing.T, i int) {
			ns := nc.servers[i].p.Load()
			ns.Shutdown()
			ns.WaitForShutdown()
		},
	})
}

// TestEmbedded_LoneServer checks Embedded without a cluster: one node, its
// own server, a clean Close.
func TestEmbedded_LoneServer(t *testing.T) {
	e, err := Embedded(ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Server() == nil || !e.Server().Running() {
		t.Fatal("embedded server not running")
	}
	got := make(chan string, 1)
	if err := e.Open(func(ch string, p []byte) { got <- ch + "=" + string(p) }, func(cluster.Report) {}); err != nil {
		t.Fatal(err)
	}
	if err := e.Subscribe("a.b"); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e.Server().Running() {
		t.Fatal("Close left the embedded server running")
	}
}

// TestStartServer_BadConfig checks the errors for unusable settings.
func TestStartServer_BadConfig(t *testing.T) {
	for _, cfg := range []ServerConfig{
		{ClientAddr: "nonsense"},
		{ClusterListen: "127.0.0.1:x"},
		{Routes: []string{"127.0.0.1:1"}},
	} {
		if ns, err := StartServer(cfg); err == nil {
			ns.Shutdown()
			t.Errorf("StartServer(%+v) succeeded", cfg)
		}
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without URL succeeded")
	}
}
