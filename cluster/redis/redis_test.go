package redis

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/wsserver/wsserver/cluster"
	"github.com/wsserver/wsserver/cluster/clustertest"
	"github.com/wsserver/wsserver/cluster/redis/redistest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goredis.SetLogger(cutLogger{})
	goleak.VerifyTestMain(m,
		// A server's event loops stop about a second after their last connection.
		goleak.IgnoreAnyFunction("github.com/wsserver/wsserver/internal/transport.(*poller).loop"),
	)
}

// proxy is a loopback TCP proxy in front of Redis for one node, so that a
// test can cut that node's connection alone (the Redis server is shared).
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.wg.Add(2)
		p.mu.Unlock()
		go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, s); c.Close() }()
	}
}

// setCut closes every proxied connection and refuses new ones (true), or
// lets them through again (false).
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// setup runs the cluster suite's nodes through proxies to the Redis at addr.
func setup(addr func(t *testing.T) string) clustertest.Setup {
	var proxies []*proxy
	return clustertest.Setup{
		Engines: func(t *testing.T, n int) []cluster.Engine {
			target := addr(t)
			proxies = proxies[:0]
			var engines []cluster.Engine
			for range n {
				p := newProxy(t, target)
				proxies = append(proxies, p)
				e, err := Connect("redis://" + p.addr())
				if err != nil {
					t.Fatal(err)
				}
				engines = append(engines, e)
			}
			return engines
		},
		Cut:     func(t *testing.T, i int) { proxies[i].setCut(true) },
		Restore: func(t *testing.T, i int) { proxies[i].setCut(false) },
		Kill:    func(t *testing.T, i int) { proxies[i].setCut(true) },
	}
}

// TestMiniredis runs the cluster suite (issue 13's Tests) on in-process
// miniredis: the engine's pub/sub, reconnect and resubscribe.
func TestMiniredis(t *testing.T) {
	clustertest.Run(t, setup(func(t *testing.T) string {
		m := miniredis.RunT(t)
		return m.Addr()
	}))
}

// TestRedisServer runs the same suite against a real redis-server (the
// Debian package, which scripts/install-clients.sh installs), started here
// on a free loopback port with no persistence and stopped at the end.
// Without redis-server the test skips, and fails under CI=true.
func TestRedisServer(t *testing.T) {
	bin := redistest.ServerBin(t)
	clustertest.Run(t, setup(func(t *testing.T) string {
		return redistest.Start(t, bin)
	}))
}
