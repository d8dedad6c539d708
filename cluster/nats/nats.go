// Package nats is the NATS engine of the wsserver cluster package: nodes
// join through an external NATS server or cluster (by URL), or each node
// runs an embedded nats-server in-process and the embedded servers form a
// NATS cluster through routes, so that a cluster of wsserver processes
// needs no broker installed.
//
// Each cluster channel is a NATS subject; the node's client connection
// subscribes once per channel and publishes without echo. NATS delivers at
// most once and keeps the order of one connection's messages. The client
// reconnects by itself (every 250 ms by default, forever) and makes its
// subscriptions again; the engine reports the loss, the recovery and any
// messages a slow subscription dropped.
package nats

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/wsserver/wsserver/cluster"
)

// Options configures an Engine.
type Options struct {
	// URL is the NATS server (or comma-separated servers of one NATS
	// cluster) to connect to, nats://host:port.
	URL string
	// InProcess, when set, is a nats-server in this process (a
	// *server.Server): the engine connects to it without a socket, and URL
	// only names it.
	InProcess natsgo.InProcessConnProvider
	// Name is the client connection's name, shown by the server's monitor.
	Name string
	// ReconnectWait is the pause between reconnect attempts (default 250 ms).
	ReconnectWait time.Duration
}

// Engine is a cluster.Engine on NATS.
type Engine struct {
	opts     Options
	embedded *server.Server // owned: shut down by Close

	mu      sync.Mutex // guards the fields below
	nc      *natsgo.Conn
	subs    map[string]*natsgo.Subscription
	dropped map[*natsgo.Subscription]int
	closed  bool
	conn    atomic.Pointer[natsgo.Conn] // nc, for Publish without the lock

	dmu     sync.RWMutex // held (read) by every delivery and report; Close takes it to wait them out
	done    bool         // Close has begun (dmu)
	deliver func(string, []byte)
	report  func(cluster.Report)
}

// New returns an engine that connects, when the Node opens it, to the NATS
// server opts names.
func New(opts Options) (*Engine, error) {
	if opts.URL == "" && opts.InProcess == nil {
		return nil, errors.New("cluster/nats: Options need a URL or an in-process server")
	}
	if opts.ReconnectWait <= 0 {
		opts.ReconnectWait = 250 * time.Millisecond
	}
	return &Engine{opts: opts, subs: make(map[string]*natsgo.Subscription), dropped: make(map[*natsgo.Subscription]int)}, nil
}

// Connect returns an engine for the external NATS at url.
func Connect(url string) (*Engine, error) { return New(Options{URL: url}) }

// ServerConfig configures an embedded nats-server.
type ServerConfig struct {
	// Name is the server's name, unique in its NATS cluster (default: the
	// server's generated ID).
	Name string
	// ClientAddr is where the server listens for NATS clients (default
	// "127.0.0.1:0": loopback, a free port). The node itself connects
	// in-process; the port lets tools such as the nats CLI look in.
	// (nats-server's DontListen would disable routes too.)
	ClientAddr string
	// ClusterName names the NATS cluster (default "wsserver"); every
	// server of a cluster must use the same.
	ClusterName string
	// ClusterListen is where the server listens for routes from the other
	// servers, host:port (port 0: a free one). Empty: a lone server.
	ClusterListen string
	// Routes are the other servers' route addresses, nats-route://host:port
	// or host:port. Listing one server is enough: the servers gossip and
	// connect to every other.
	Routes []string
}

// StartServer starts an embedded nats-server and waits until it accepts
// clients.
func StartServer(cfg ServerConfig) (*server.Server, error) {
	opts := &server.Options{ServerName: cfg.Name, NoSigs: true, NoLog: true}
	addr := cfg.ClientAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var err error
	if opts.Host, opts.Port, err = hostPort(addr); err != nil {
		return nil, fmt.Errorf("cluster/nats: client address: %w", err)
	}
	if cfg.ClusterListen != "" {
		opts.Cluster.Name = cfg.ClusterName
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = "wsserver"
		}
		if opts.Cluster.Host, opts.Cluster.Port, err = hostPort(cfg.ClusterListen); err != nil {
			return nil, fmt.Errorf("cluster/nats: cluster listen address: %w", err)
		}
		opts.Cluster.PoolSize = -1 // one route per peer: one account, one route
		for _, r := range cfg.Routes {
			if !strings.Contains(r, "://") {
				r = "nats-route://" + r
			}
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("cluster/nats: route %q is not nats-route://host:port", r)
			}
			opts.Routes = append(opts.Routes, u)
		}
	} else if len(cfg.Routes) > 0 {
		return nil, errors.New("cluster/nats: Routes need ClusterListen")
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster/nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("cluster/nats: the embedded server did not start within 10 s (are its ports free?)")
	}
	return ns, nil
}

// hostPort splits host:port, port 0 becoming nats-server's "any free port".
func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	if port == 0 {
		port = -1
	}
	return h, port, nil
}

// Embedded starts an embedded nats-server with cfg and returns an engine
// connected to it in-process; closing the engine shuts the server down.
func Embedded(cfg ServerConfig) (*Engine, error) {
	ns, err := StartServer(cfg)
	if err != nil {
		return nil, err
	}
	e, _ := New(Options{URL: ns.ClientURL(), InProcess: ns})
	e.embedded = ns
	return e, nil
}

// Server returns the embedded server, or nil.
func (e *Engine) Server() *server.Server { return e.embedded }

// Open connects to NATS.
func (e *Engine) Open(deliver func(string, []byte), report func(cluster.Report)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.nc != nil || e.closed {
		return errors.New("cluster/nats: the engine was opened before")
	}
	e.dmu.Lock()
	e.deliver, e.report = deliver, report
	e.dmu.Unlock()
	opts := []natsgo.Option{
		natsgo.Name(e.opts.Name),
		natsgo.NoEcho(),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(e.opts.ReconnectWait),
		natsgo.DontRandomize(),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			e.reportf(cluster.Report{Kind: cluster.Disconnected, Err: err})
		}),
		natsgo.ReconnectHandler(func(*natsgo.Conn) {
			e.reportf(cluster.Report{Kind: cluster.Reconnected})
		}),
		natsgo.ErrorHandler(e.asyncError),
	}
	if e.opts.InProcess != nil {
		opts = append(opts, natsgo.InProcessServer(e.opts.InProcess))
	}
	nc, err := natsgo.Connect(e.opts.URL, opts...)
	if err != nil {
		return fmt.Errorf("cluster/nats: connecting to %s: %w", e.opts.URL, err)
	}
	e.nc = nc
	e.conn.Store(nc)
	return nil
}

// reportf reports unless the engine is closing.
func (e *Engine) reportf(r cluster.Report) {
	e.dmu.RLock()
	defer e.dmu.RUnlock()
	if !e.done {
		e.report(r)
	}
}

// asyncError reports a slow subscription's drops, and other async errors.
func (e *Engine) asyncError(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
	if sub != nil && errors.Is(err, natsgo.ErrSlowConsumer) {
		n, _ := sub.Dropped()
		e.mu.Lock()
		lost := n - e.dropped[sub]
		e.dropped[sub] = n
		e.mu.Unlock()
		if lost > 0 {
			e.reportf(cluster.Report{Kind: cluster.Dropped, Lost: int64(lost), Err: err})
		}
		return
	}
	e.reportf(cluster.Report{Kind: cluster.Failed, Err: err})
}

// Publish publishes payload on the subject channel.
func (e *Engine) Publish(channel string, payload []byte) error {
	nc := e.conn.Load()
	if nc == nil {
		return errors.New("cluster/nats: the engine is not open")
	}
	return nc.Publish(channel, payload)
}

// Subscribe subscribes to the subject channel and waits until the server
// has the subscription.
func (e *Engine) Subscribe(channel string) error {
	e.mu.Lock()
	if e.nc == nil || e.closed {
		e.mu.Unlock()
		return errors.New("cluster/nats: the engine is not open")
	}
	if e.subs[channel] != nil {
		e.mu.Unlock()
		return nil
	}
	sub, err := e.nc.Subscribe(channel, func(m *natsgo.Msg) {
		e.dmu.RLock()
		if !e.done {
			e.deliver(m.Subject, m.Data)
		}
		e.dmu.RUnlock()
	})
	if err != nil {
		e.mu.Unlock()
		return err
	}
	e.subs[channel] = sub
	nc := e.nc
	e.mu.Unlock()
	if err := nc.FlushTimeout(5 * time.Second); err != nil && nc.IsConnected() {
		return fmt.Errorf("cluster/nats: subscription to %s not confirmed: %w", channel, err)
	}
	return nil
}

// Unsubscribe ends the subscription to channel.
func (e *Engine) Unsubscribe(channel string) error {
	e.mu.Lock()
	sub := e.subs[channel]
	delete(e.subs, channel)
	delete(e.dropped, sub)
	e.mu.Unlock()
	if sub == nil {
		return nil
	}
	return sub.Unsubscribe()
}

// Close closes the connection (and the embedded server, if the engine
// started it); no delivery runs after it returns.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	nc := e.nc
	e.mu.Unlock()
	e.dmu.Lock() // waits for deliveries under way
	e.done = true
	e.dmu.Unlock()
	if nc != nil {
		nc.Close()
	}
	if e.embedded != nil {
		e.embedded.Shutdown()
		e.embedded.WaitForShutdown()
	}
	return nil
}

var _ cluster.Engine = (*Engine)(nil)
