package main

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsserver/wsserver"
	"github.com/wsserver/wsserver/cluster"
)

//go:embed web
var webFiles embed.FS

// pagePrefix is where the built-in page is always served; it is also at /
// unless --static takes /.
const pagePrefix = "/_wsserver/"

// app is the running command: the mode's server (/ws), the server of the
// connection-list feed (/events), and the HTTP server in front of both.
type app struct {
	opts  options
	log   *slog.Logger
	level *slog.LevelVar

	srv      *wsserver.Server // the mode's WebSocket server
	node     *cluster.Node    // with --cluster*: this process in the cluster
	mon      *wsserver.Server // the /events feed
	peerMu   sync.Mutex       // makes peers (peerFor)
	deferred atomic.Int64     // messages that waited in an outbox
	// backlogged counts the connections whose outbox holds messages, so
	// that the monitor walks the connections for the slowest only then.
	backlogged atomic.Int64
	lists      sync.Pool // *connList (borrowConns)
	feed       *feed
	targets    sync.Pool     // *targets, for broadcast
	files      http.Handler  // the page, /connections and --static
	monitor    monitorAccess // who may read /connections and /events (monitorguard.go)

	http     *http.Server       // serves what is not the mode's WebSocket (httpLn)
	httpLn   net.Listener       // the requests a.srv's listener hands off (listen)
	tls      *tls.Config        // nil: plain HTTP
	bg       sync.WaitGroup     // pushLoop and statsLoop
	stopBg   context.CancelFunc // set by serve
	sessions sync.WaitGroup     // exec mode: goroutines of the programs
	killNow  chan struct{}      // closed when shutdown runs out of time: SIGKILL the programs
	killOnce sync.Once
	stopping atomic.Bool // shutdown has begun: /healthz answers 503
}

// serveHealth answers GET /healthz for load balancers: 200 while serving,
// 503 once shutdown has begun, so that no new client is sent here.
func (a *app) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	status, word := http.StatusOK, "ok"
	if a.stopping.Load() {
		status, word = http.StatusServiceUnavailable, "stopping"
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"status\":%q,\"connections\":%d}\n", word, a.srv.ConnectionCount())
}

// newApp configures the servers from the options. Its errors are usage
// errors: a --config setting or a flag the server refuses.
func newApp(o options, log *slog.Logger, level *slog.LevelVar) (*app, error) {
	a := &app{
		opts:    o,
		log:     log,
		level:   level,
		srv:     wsserver.New(),
		mon:     wsserver.New(),
		feed:    newFeed(),
		killNow: make(chan struct{}),
	}
	// Every mode works on whole messages (OnMessage): echo and broadcast
	// send each one back out as it came, exec writes each as a line.
	// TcpNoDelay: the reference's default is False (Nagle's algorithm on);
	// a server of interactive traffic wants each message out at once, as Go's
	// net package does by default. --config TcpNoDelay=False restores it.
	settings := []string{
		"TcpNoDelay=True",
		"MaxConnections=" + strconv.Itoa(o.maxConnections),
		"LogLevel=" + strconv.Itoa(o.logLevel),
		"PingInterval=" + strconv.FormatFloat(o.pingInterval.Seconds(), 'f', -1, 64),
		"PongTimeout=" + strconv.FormatFloat(o.pongTimeout.Seconds(), 'f', -1, 64),
	}
	// EventLoop: open plaintext connections are served from epoll loops, so
	// an idle one holds no goroutine (about 1 KiB instead of about 9). The
	// mode handlers never block, as the loops require, unless --timeout
	// makes sends wait: then each connection keeps its goroutine.
	// --config EventLoop=... decides otherwise. TLS connections always keep
	// a goroutine. The loops need Linux's epoll: elsewhere the setting fails
	// with 302 and every connection keeps its goroutine.
	if o.timeout == 0 {
		if _, err := a.srv.Config("EventLoop=True"); err != nil && !errors.Is(err, wsserver.ErrNotSupported) {
			return nil, usagef("EventLoop=True: %v", err)
		}
	}
	if o.tls.enabled() {
		settings = append(settings, "SSLEnabledProtocols=15360") // TLS 1.2 and 1.3; --config may change it
	}
	for _, cfg := range settings {
		if _, err := a.srv.Config(cfg); err != nil {
			return nil, usagef("%s: %v", cfg, err)
		}
	}
	if err := a.srv.SetConnectionBacklog(o.backlog); err != nil {
		return nil, usagef("--backlog: %v", err)
	}
	if err := a.srv.SetDefaultTimeout(o.timeout); err != nil {
		return nil, usagef("--timeout: %v", err)
	}
	// An IPv6 address in --host needs UseIPv6 (the reference's default, 0,
	// is IPv4 only): set it here, so that --host ::1 just works (--config
	// may still say otherwise).
	if ip, err := netip.ParseAddr(o.host); err == nil && ip.Is6() && !ip.Is4In6() {
		if _, err := a.srv.Config("UseIPv6=1"); err != nil {
			return nil, err
		}
	}
	if v := originSetting(o); v != "" {
		if _, err := a.srv.Config("AllowedOrigins=" + v); err != nil {
			return nil, usagef("--origin: %v", err)
		}
	}
	for _, cfg := range o.configs {
		if _, err := a.srv.Config(cfg); err != nil {
			return nil, usagef("--config %s: %v", cfg, err)
		}
	}
	// The /events feed follows the same Origin policy as /ws.
	origins, _ := a.srv.Config("AllowedOrigins")
	if _, err := a.mon.Config("AllowedOrigins=" + origins); err != nil {
		return nil, err
	}
	if origins == wsserver.AnyOrigin {
		msg := "AllowedOrigins=*: any web page a user of this machine visits can open WebSockets to this server"
		if o.mode == modeExec {
			msg += " and run " + o.command[0]
		}
		log.Warn(msg + "; list the origins you trust with --origin instead")
	}
	if o.tls.enabled() {
		conf, err := configureTLS(a.srv, o.tls)
		if err != nil {
			return nil, usagef("%v", err)
		}
		a.tls = conf
		// The server's own listener does the TLS handshake (UseSSL), then
		// hands the page's requests to the http.Server decrypted.
		if err := a.srv.SetUseSSL(true); err != nil {
			return nil, usagef("%v", err)
		}
	}
	lv, _ := a.srv.Config("LogLevel")
	n, _ := strconv.Atoi(lv)
	level.Set(slogLevel(n))
	if _, err := a.mon.Config("LogLevel=" + lv); err != nil {
		return nil, err
	}
	if err := a.srv.SetLocalHost(o.host); err != nil {
		return nil, err
	}
	if err := a.srv.SetLocalPort(o.port); err != nil {
		return nil, usagef("--port: %v", err)
	}
	token := o.monitorToken
	if token == "" {
		token = os.Getenv(monitorTokenEnv)
	}
	monitor, err := newMonitorAccess(o.monitor, token)
	if err != nil {
		return nil, err
	}
	a.monitor = monitor
	wireLogs(a.srv, log, "/ws", "conn")
	wireLogs(a.mon, log, "/events", "watcher")
	a.wireMode()
	a.wireMonitor()
	a.files = a.fileRoutes()
	a.http = &http.Server{
		Handler:  a,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// HandshakeTimeout, DefaultConnectionTimeout and MaxRequestHeadSize
	// (--config) bound the request heads and idle keep-alive connections.
	a.srv.ConfigureHTTPServer(a.http)
	return a, nil
}

// fileRoutes serves what is not a WebSocket: the page, /connections and the
// --static directory.
func (a *app) fileRoutes() http.Handler {
	web, _ := fs.Sub(webFiles, "web")
	page := http.StripPrefix(strings.TrimSuffix(pagePrefix, "/"), noCache(http.FileServerFS(web)))
	mux := http.NewServeMux()
	mux.Handle("/connections", a.guardMonitor(http.HandlerFunc(a.serveConnections)))
	mux.HandleFunc("/healthz", a.serveHealth)
	mux.Handle("/metrics", a.guardMonitor(a.metricsHandler()))
	mux.Handle(pagePrefix, page)
	if a.opts.static != "" {
		mux.Handle("/", http.FileServer(http.Dir(a.opts.static)))
	} else {
		mux.Handle("/{$}", noCache(http.FileServerFS(web)))
	}
	return mux
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP routes a request: /events to the feed, /ws and every other
// WebSocket upgrade to the mode, the rest to the files.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/events":
		a.guardMonitor(a.mon).ServeHTTP(w, r)
	case r.URL.Path == "/ws" || isUpgrade(r):
		a.srv.ServeHTTP(w, r)
	default:
		a.files.ServeHTTP(w, r)
	}
}

func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "websocket") {
				return true
			}
		}
	}
	return false
}

// listen starts the mode's server on its LocalHost and LocalPort
// (StartListening: its own listener and transport, TLS with the --tls
// flags) and returns the address it listens on. The WebSocket upgrades
// other than /events stay with the mode's server, whose listener reads
// their handshake itself (on its event loops with EventLoop); every other
// request, /events included, is handed to a.http (serve), so one port
// serves the page, the monitor and /metrics too, without the memory and
// accept cost net/http and a hijacked connection would add to every
// WebSocket client.
func (a *app) listen() (string, error) {
	a.httpLn = a.srv.HTTPListener(func(path string) bool { return path != "/events" })
	if err := a.srv.StartListening(); err != nil {
		a.httpLn.Close()
		return "", err
	}
	host := a.opts.host
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, strconv.Itoa(a.srv.LocalPort())), nil
}

// scheme is the URL scheme of the page: "http", or "https" with TLS.
func (a *app) scheme() string {
	if a.tls != nil {
		return "https"
	}
	return "http"
}

// urls returns, for the listening address (host:port), the root URL (the
// page, or the --static files), the page's URL and the WebSocket's.
func (a *app) urls(addr string) (root, page, ws string) {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	hp := net.JoinHostPort(host, port)
	wsScheme := "ws"
	if a.scheme() == "https" {
		wsScheme = "wss"
	}
	root = a.scheme() + "://" + hp + "/"
	page = root
	if a.opts.static != "" {
		page = a.scheme() + "://" + hp + pagePrefix
	}
	return root, page, wsScheme + "://" + hp + "/ws"
}

// serve starts the background loops and the HTTP server of the requests
// the listener hands off (listen has started the WebSocket server) until
// shutdown. The channel yields what http.Server.Serve returned:
// http.ErrServerClosed after a shutdown.
func (a *app) serve() <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	a.stopBg = cancel
	a.bg.Add(2)
	go func() { defer a.bg.Done(); a.pushLoop(ctx) }()
	go func() { defer a.bg.Done(); a.statsLoop(ctx) }()
	served := make(chan error, 1)
	go func() { served <- a.http.Serve(a.httpLn) }()
	return served
}

// shutdown stops accepting, closes every client with 1001 (going away),
// ends the exec programs, and waits for all of it until ctx is done, when it
// cuts what remains. Calling it again waits again.
func (a *app) shutdown(ctx context.Context) error {
	a.stopping.Store(true)
	var errs []error
	for _, srv := range []*wsserver.Server{a.srv, a.mon} {
		if _, err := srv.Config("DisconnectStatusCode=1001"); err != nil {
			errs = append(errs, err)
		}
		srv.Config("DisconnectStatusDescription=server shutting down")
	}
	// http.Server.Shutdown closes the hand-off at once, then waits for plain
	// HTTP requests in progress; upgraded connections are the servers' own,
	// and ShutdownContext stops the listener.
	httpDone := make(chan error, 1)
	go func() { httpDone <- a.http.Shutdown(ctx) }()
	if err := a.srv.ShutdownContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("closing the clients: %w", err))
	}
	if err := a.mon.ShutdownContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("closing the /events watchers: %w", err))
	}
	if err := <-httpDone; err != nil {
		errs = append(errs, fmt.Errorf("http: %w", err))
	}
	if err := a.leaveCluster(); err != nil {
		errs = append(errs, fmt.Errorf("leaving the cluster: %w", err))
	}
	if a.stopBg != nil {
		a.stopBg()
	}
	a.bg.Wait()
	done := make(chan struct{})
	go func() { a.sessions.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		a.killOnce.Do(func() { close(a.killNow) })
		select {
		case <-done:
		case <-time.After(killGrace):
			errs = append(errs, errors.New("exec programs still running after SIGKILL"))
		}
	}
	return errors.Join(errs...)
}

// originSetting is the AllowedOrigins value the --origin and --any-origin
// flags ask for; "" leaves the library's default, same-origin: the built-in
// page (and --static pages) served by the command itself.
func originSetting(o options) string {
	switch {
	case o.anyOrigin:
		return wsserver.AnyOrigin
	case len(o.origins) > 0:
		return wsserver.SameOrigin + ", " + strings.Join(o.origins, ", ")
	}
	return ""
}
