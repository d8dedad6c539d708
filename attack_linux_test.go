package wsserver

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/transport"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// The attack tests of issue 11 ("Liveness and limits"): each row of the
// issue's table, played by a hostile raw-socket client against every
// transport it applies to, while a well-behaved client does round trips on
// the same server. They assert what the server does (the attacker is cut
// off or refused with the stated code) and that the well-behaved client
// loses nothing.

// attackTransport starts a server on one transport.
type attackTransport struct {
	name string
	tls  bool
	http bool // mounted in a net/http server (ServeHTTP)
	loop bool // EventLoop
}

var attackTransports = []attackTransport{
	{name: "goroutine"},
	{name: "EventLoop", loop: true},
	{name: "TLS", tls: true},
	{name: "net/http", http: true},
}

// attackEnv is a started server with the events the attack tests check.
type attackEnv struct {
	s       *Server
	addr    string // host:port
	path    string // the WebSocket path
	tlsConf *tls.Config
	ev      *wiretest.Recorder // "disconnected <id> <code>", "error <id> <code> <message>"
	ids     chan int           // ConnectionIDs as Connected fires
	mu      sync.Mutex         // guards echoed
	echoed  map[int]int        // messages echoed per connection
}

// startAttackEnv starts an echo server (BufferMessage) on tr, with setup's
// settings, recording Disconnected and Error events.
func startAttackEnv(t *testing.T, tr attackTransport, setup func(s *Server)) *attackEnv {
	t.Helper()
	env := &attackEnv{ev: wiretest.NewRecorder(), ids: make(chan int, 100), echoed: make(map[int]int), path: "/"}
	configure := func(s *Server) {
		setConfig(t, s, "BufferMessage=True", "LogLevel=0")
		if tr.loop {
			setConfig(t, s, "EventLoop=True")
		}
		s.Events.OnDataIn = func(e *DataInEvent) {
			if err := s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB); err == nil {
				env.mu.Lock()
				env.echoed[e.ConnectionID]++
				env.mu.Unlock()
			}
		}
		s.Events.OnDisconnected = func(e *DisconnectedEvent) {
			env.ev.Add("disconnected %d %d", e.ConnectionID, e.StatusCode)
		}
		s.Events.OnError = func(e *ErrorEvent) {
			env.ev.Add("error %d %d %s", e.ConnectionID, e.ErrorCode, e.Description)
		}
		s.Events.OnConnected = func(e *ConnectedEvent) {
			select {
			case env.ids <- e.ConnectionID:
			default:
			}
		}
		if setup != nil {
			setup(s)
		}
	}
	switch {
	case tr.tls:
		te := newTLSEnv(t)
		h := te.start(t, configure)
		env.s, env.addr, env.tlsConf = h.s, h.addr, te.client()
	case tr.http:
		h := newHTTPHarness(t, configure)
		// The harness's own Connected hook feeds h.ids; ours feeds env.ids.
		env.s, env.addr, env.path = h.s, h.addr, "/ws"
	default:
		h := newHarness(t, configure)
		env.s, env.addr = h.s, h.addr
	}
	return env
}

// url returns the server's WebSocket URL.
func (env *attackEnv) url() string {
	if env.tlsConf != nil {
		return "wss://" + env.addr + env.path
	}
	return "ws://" + env.addr + env.path
}

// nextID waits for the next Connected.
func (env *attackEnv) nextID(t *testing.T) int { return wiretest.Receive(t, env.ids, "Connected") }

// goodClient dials a well-behaved gorilla client.
func (env *attackEnv) goodClient(t *testing.T) (*websocket.Conn, int) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitLimit, TLSClientConfig: env.tlsConf}
	conn, _, err := d.Dial(env.url(), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", env.url(), err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, env.nextID(t)
}

// roundTrips makes n echo round trips on conn, checking every reply.
func roundTrips(t *testing.T, conn *websocket.Conn, n int, tag string) {
	t.Helper()
	for i := range n {
		msg := fmt.Sprintf("%s round trip %d", tag, i)
		conn.SetWriteDeadline(time.Now().Add(waitLimit))
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatalf("well-behaved client: write %d: %v", i, err)
		}
		conn.SetReadDeadline(time.Now().Add(waitLimit))
		_, got, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("well-behaved client: read %d: %v", i, err)
		}
		if string(got) != msg {
			t.Fatalf("well-behaved client: round trip %d echoed %q, want %q", i, got, msg)
		}
	}
}

// attackConn is a hostile client's socket after its opening handshake.
type attackConn struct {
	net.Conn
	br   *bufio.Reader
	resp *http.Response
}

// attackDial connects to the server, with a 4 KiB receive buffer when small
// (a client that does not read then soon holds the server's writes back),
// sends head (an opening handshake when empty) and reads the response.
func (env *attackEnv) attackDial(t *testing.T, small bool, head string) *attackConn {
	t.Helper()
	nd := net.Dialer{Timeout: waitLimit}
	if small {
		nd.Control = smallRcvBuf
	}
	nc, err := nd.Dial("tcp", env.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if env.tlsConf != nil {
		tc := tls.Client(nc, env.tlsConf)
		tc.SetDeadline(time.Now().Add(waitLimit))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		nc = tc
	}
	if head == "" {
		head = upgradeHead(env.addr, env.path, nil)
	}
	nc.SetDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(nc, head); err != nil {
		t.Fatalf("writing the request head: %v", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	nc.SetDeadline(time.Time{})
	return &attackConn{Conn: nc, br: br, resp: resp}
}

// upgradeHead returns an opening handshake with extra header lines.
func upgradeHead(host, path string, extra []string) string {
	var key [16]byte
	rand.Read(key[:])
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", base64.StdEncoding.EncodeToString(key[:]))
	for _, l := range extra {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// flood writes chunk over and over until the server stops taking it for
// good (the write fails: the server cut the connection) or limit passes,
// and reports whether the server cut it. Each write waits at most limit.
func (a *attackConn) flood(chunk []byte, limit time.Duration) bool {
	end := time.Now().Add(limit)
	for range 10_000_000 {
		if time.Now().After(end) {
			return false
		}
		a.SetWriteDeadline(end)
		if _, err := a.Write(chunk); err != nil {
			return !isTimeout(err)
		}
	}
	return false
}

// isTimeout reports whether err is a deadline.
func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// bytesWaited extracts the queued bytes a slow-client cut reports.
var bytesWaited = regexp.MustCompile(`(\d+) bytes waited`)

// TestAttack_PongFlood_Issue11 plays the first row of issue 11's table: a
// client sends 125-byte pings as fast as it can and never reads. Pongs
// count against the queue limit (SendQueueSize): once the queue is over it,
// the server stops reading the client (its goroutine waits, or its event
// loop stops polling it), and when no byte of the queue moves for
// SlowClientTimeout the client is cut off with 1008 and an Error event. A
// well-behaved client keeps its round trips meanwhile.
func TestAttack_PongFlood_Issue11(t *testing.T) {
	const queueLimit = 64 << 10
	for _, tr := range attackTransports {
		t.Run(tr.name, func(t *testing.T) {
			env := startAttackEnv(t, tr, func(s *Server) {
				setConfig(t, s, "SendQueueSize="+strconv.Itoa(queueLimit), "SlowClientTimeout=0.5")
			})
			good, goodID := env.goodClient(t)
			bad := env.attackDial(t, true, "")
			if bad.resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("attacker's handshake answered %s", bad.resp.Status)
			}
			badID := env.nextID(t)

			var chunk []byte
			for range 64 {
				chunk = append(chunk, wiretest.Client(true, opPing, make([]byte, 125)).Bytes()...)
			}
			cut := make(chan bool, 1)
			go func() { cut <- bad.flood(chunk, 3*waitLimit) }()
			roundTrips(t, good, 50, "during the flood")

			wantEvent := fmt.Sprintf("disconnected %d %d", badID, 1008)
			env.ev.WaitFor(t, wantEvent)
			if !wiretest.Receive(t, cut, "the attacker's writes to fail") {
				t.Errorf("the attacker's socket was not closed by the server")
			}
			msg := env.ev.WaitPrefix(t, fmt.Sprintf("error %d 1008 ", badID))
			m := bytesWaited.FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("Error event %q does not say how much waited", msg)
			}
			// Reading stops after the batch that crossed the limit: at most
			// one read's worth of pongs (a loop reads 256 KiB) over it.
			if n, _ := strconv.Atoi(m[1]); n > queueLimit+transport.LoopBufferSize {
				t.Errorf("the attacker held %d bytes of pongs, more than the limit %d and one read", n, queueLimit)
			}
			roundTrips(t, good, 10, "after the flood")
			for _, e := range env.ev.Snapshot() {
				if strings.HasPrefix(e, fmt.Sprintf("disconnected %d ", goodID)) {
					t.Errorf("the well-behaved client was disconnected: %s", e)
				}
			}
		})
	}
}

// deflateBomb returns the payload of a permessage-deflate message that
// inflates to n zero bytes (RFC 7692 section 7.2.1: the trailing 00 00 ff ff
// of the flush is left off).
func deflateBomb(t testing.TB, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	zero := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(zero))
		w.Write(zero[:k])
		n -= k
	}
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// TestAttack_DeflateBomb_Issue11 plays the second row of issue 11's table:
// clients each send a 64 KB permessage-deflate message that inflates to 63
// MiB, and never read the echo. The inflated message is assembled within the
// memory budget: a connection whose message would take the server over
// MemoryBudget while it holds more than its share is closed with 1013 before
// its buffer grows, so the accounted memory never passes the budget, and the
// well-behaved client (holding nothing) keeps its round trips.
func TestAttack_DeflateBomb_Issue11(t *testing.T) {
	const budget = 32 << 20
	const bombers = 3
	bomb := deflateBomb(t, 63<<20)
	frame := wiretest.Client(true, opBinary|0x40, bomb).Bytes() // RSV1: compressed
	for _, tr := range attackTransports {
		t.Run(tr.name, func(t *testing.T) {
			env := startAttackEnv(t, tr, func(s *Server) {
				setConfig(t, s, "MemoryBudget="+strconv.Itoa(budget))
			})
			good, goodID := env.goodClient(t)
			goodHeld := env.s.MemoryInUse() // its request head
			ext := []string{"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover"}
			var ids []int
			for range bombers {
				a := env.attackDial(t, true, upgradeHead(env.addr, env.path, ext))
				if a.resp.StatusCode != http.StatusSwitchingProtocols || a.resp.Header.Get("Sec-WebSocket-Extensions") == "" {
					t.Fatalf("bomber's handshake: %s, extensions %q", a.resp.Status, a.resp.Header.Get("Sec-WebSocket-Extensions"))
				}
				ids = append(ids, env.nextID(t))
				a.SetWriteDeadline(time.Now().Add(waitLimit))
				if _, err := a.Write(frame); err != nil {
					t.Fatalf("sending the bomb: %v", err)
				}
			}
			roundTrips(t, good, 20, "beside the bombs")
			for _, id := range ids {
				env.ev.WaitFor(t, fmt.Sprintf("disconnected %d %d", id, 1013))
			}
			roundTrips(t, good, 5, "after the bombs")
			if peak := env.s.mem.peak.Load(); peak > budget {
				t.Errorf("accounted memory peaked at %d bytes, over the budget of %d", peak, budget)
			}
			// Disconnected fires before the connection's cleanup gives its
			// bytes back: wait for the last one.
			wiretest.WaitUntil(t, "the bombers' bytes to be given back (MemoryInUse as before them)", func() bool { return env.s.MemoryInUse() == goodHeld })
			for _, e := range env.ev.Snapshot() {
				if strings.HasPrefix(e, fmt.Sprintf("disconnected %d ", goodID)) {
					t.Errorf("the well-behaved client was disconnected: %s", e)
				}
			}
		})
	}
}

// TestAttack_AnnouncedFrameLength_Issue11 plays the row "5,000 connections
// announce a 64 MiB frame and send 40 KiB": message buffers grow with the
// data that arrives, not with the length a frame header announces, so each
// such connection holds 64 KiB (its 40 KiB rounded to a buffer class), not
// megabytes.
func TestAttack_AnnouncedFrameLength_Issue11(t *testing.T) {
	const conns = 20
	for _, tr := range attackTransports {
		t.Run(tr.name, func(t *testing.T) {
			env := startAttackEnv(t, tr, nil)
			good, _ := env.goodClient(t)
			hdr := []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4} // 64 MiB, masked
			part := append(hdr, make([]byte, 40<<10)...)
			for range conns {
				a := env.attackDial(t, false, "")
				env.nextID(t)
				a.SetWriteDeadline(time.Now().Add(waitLimit))
				if _, err := a.Write(part); err != nil {
					t.Fatal(err)
				}
			}
			// Each connection ends with its 40 KiB in a 64 KiB buffer, and
			// holds its request head (as the well-behaved client does).
			want := int64(conns*64<<10) + heldHeads(env.s)
			wiretest.WaitUntil(t, "every connection's 40 KiB to be buffered", func() bool { return env.s.MemoryInUse() >= want })
			roundTrips(t, good, 5, "beside the announced frames")
			if n := env.s.MemoryInUse(); n != want {
				t.Errorf("%d connections that sent 40 KiB of a 64 MiB frame hold %d bytes, want %d (%d of them request heads)", conns, n, want, heldHeads(env.s))
			}
		})
	}
}

// heldHeads returns the bytes of request heads the open connections of s
// have charged to the memory budget.
func heldHeads(s *Server) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, c := range s.conns {
		n += c.mem.head
	}
	return n
}

// TestAttack_LargeRequestHead_Issue11 plays the row "request heads of 1 MB
// (one URI, one header, many headers)": every path, the raw listener and
// ServeHTTP alike, refuses a head over MaxRequestHeadSize (16 KiB by
// default) with 431, and accepts one under it.
func TestAttack_LargeRequestHead_Issue11(t *testing.T) {
	many := make([]string, 3000)
	for i := range many {
		many[i] = fmt.Sprintf("X-Header-%d: v", i)
	}
	big := strings.Repeat("a", 20<<10)
	for _, tr := range attackTransports {
		t.Run(tr.name, func(t *testing.T) {
			env := startAttackEnv(t, tr, nil)
			heads := map[string]string{
				"one URI":      upgradeHead(env.addr, env.path+"?q="+big, nil),
				"one header":   upgradeHead(env.addr, env.path, []string{"X-Big: " + big}),
				"many headers": upgradeHead(env.addr, env.path, many),
			}
			for name, head := range heads {
				a := env.attackDial(t, false, head)
				if a.resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
					t.Errorf("%s (%d bytes): answered %s, want 431", name, len(head), a.resp.Status)
				}
				a.Close()
			}
			ok := env.attackDial(t, false, upgradeHead(env.addr, env.path, []string{"X-Fits: " + big[:12<<10]}))
			if ok.resp.StatusCode != http.StatusSwitchingProtocols {
				t.Errorf("a 12 KiB head answered %s, want 101", ok.resp.Status)
			}
			env.nextID(t)
			good, _ := env.goodClient(t)
			roundTrips(t, good, 3, "after the large heads")
		})
	}
}

// TestConfig_MaxRequestHeadSize_Issue11 checks that the head limit is a
// setting, on the listener and through ServeHTTP.
func TestConfig_MaxRequestHeadSize_Issue11(t *testing.T) {
	for _, tr := range []attackTransport{attackTransports[0], attackTransports[1], attackTransports[3]} {
		t.Run(tr.name, func(t *testing.T) {
			env := startAttackEnv(t, tr, func(s *Server) { setConfig(t, s, "MaxRequestHeadSize=2048") })
			a := env.attackDial(t, false, upgradeHead(env.addr, env.path, []string{"X-Big: " + strings.Repeat("b", 3000)}))
			if a.resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("a 3 KiB head with MaxRequestHeadSize=2048 answered %s, want 431", a.resp.Status)
			}
			ok := env.attackDial(t, false, upgradeHead(env.addr, env.path, []string{"X-Small: " + strings.Repeat("b", 1000)}))
			if ok.resp.StatusCode != http.StatusSwitchingProtocols {
				t.Errorf("a 1.2 KiB head answered %s, want 101", ok.resp.Status)
			}
		})
	}
}

// TestConfigureHTTPServer_Issue11 checks that the net/http path gets the
// server's timeouts and head limit (HandshakeTimeout, DefaultConnectionTimeout,
// MaxRequestHeadSize).
func TestConfigureHTTPServer_Issue11(t *testing.T) {
	s := New()
	setConfig(t, s, "HandshakeTimeout=7", "MaxRequestHeadSize=4096")
	var hs http.Server
	s.ConfigureHTTPServer(&hs)
	if hs.ReadHeaderTimeout != 7*time.Second || hs.IdleTimeout != 7*time.Second || hs.MaxHeaderBytes != 4096 {
		t.Errorf("ReadHeaderTimeout %v, IdleTimeout %v, MaxHeaderBytes %d; want 7s, 7s, 4096", hs.ReadHeaderTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
	setConfig(t, s, "DefaultConnectionTimeout=3")
	hs = http.Server{IdleTimeout: time.Second}
	s.ConfigureHTTPServer(&hs)
	if hs.ReadHeaderTimeout != 3*time.Second || hs.IdleTimeout != time.Second {
		t.Errorf("with DefaultConnectionTimeout=3 and IdleTimeout 1s: ReadHeaderTimeout %v, IdleTimeout %v; want 3s, 1s", hs.ReadHeaderTimeout, hs.IdleTimeout)
	}
}

// TestHeartbeat_ClientStopsAnsweringPings_Issue11 checks the heartbeat
// (PingInterval, PongTimeout): a client that sends nothing is pinged after
// PingInterval and, when it does not answer within PongTimeout, is cut off
// and reported once: one Error event (10060), one Log entry and one
// Disconnected (1006) for the one dead peer. A client that answers keeps its
// connection and its measured round trip is its Connection's PingRTT.
func TestHeartbeat_ClientStopsAnsweringPings_Issue11(t *testing.T) {
	for _, tr := range attackTransports {
		t.Run(tr.name, func(t *testing.T) {
			var logMu sync.Mutex
			var logs []LogEvent
			env := startAttackEnv(t, tr, func(s *Server) {
				setConfig(t, s, "PingInterval=0.2", "PongTimeout=0.3", "LogLevel=1")
				s.Events.OnLog = func(e *LogEvent) {
					logMu.Lock()
					logs = append(logs, *e)
					logMu.Unlock()
				}
			})
			good, goodID := env.goodClient(t)
			readerDone := make(chan error, 1)
			go func() { // gorilla answers pings while it reads
				for {
					if _, _, err := good.ReadMessage(); err != nil {
						readerDone <- err
						return
					}
				}
			}()
			silent := env.attackDial(t, false, "")
			silentID := env.nextID(t)

			msg := env.ev.WaitPrefix(t, fmt.Sprintf("error %d 10060 ", silentID))
			if !strings.Contains(msg, "PongTimeout") {
				t.Errorf("the Error event %q does not name PongTimeout", msg)
			}
			env.ev.WaitFor(t, fmt.Sprintf("disconnected %d 1006", silentID))
			// The connection ends (its ID leaves Connections) after
			// Disconnected: once it has, nothing more can be reported for it.
			wiretest.WaitUntil(t, "the dead connection to end", func() bool {
				_, err := env.s.Connection(silentID)
				return err != nil
			})
			var errs, discs int
			for _, e := range env.ev.Snapshot() {
				if strings.HasPrefix(e, fmt.Sprintf("error %d ", silentID)) {
					errs++
				}
				if strings.HasPrefix(e, fmt.Sprintf("disconnected %d ", silentID)) {
					discs++
				}
			}
			if errs != 1 || discs != 1 {
				t.Errorf("one dead peer was reported by %d Error and %d Disconnected events, want 1 and 1: %q", errs, discs, env.ev.Snapshot())
			}
			logMu.Lock()
			cuts := 0
			for _, l := range logs {
				if l.ConnectionID == silentID && l.LogType == "Error" {
					cuts++
					if !strings.Contains(l.Message, "10060") || !strings.Contains(l.Message, "PongTimeout") {
						t.Errorf("the Log entry %q does not give the code 10060 and name PongTimeout", l.Message)
					}
				}
			}
			logMu.Unlock()
			if cuts != 1 {
				t.Errorf("%d Log entries of type Error for connection %d, want 1: %+v", cuts, silentID, logs)
			}
			// The silent client was pinged before it was cut off.
			f, err := (&rawConn{NC: silent.Conn, BR: silent.br}).ReadFrame()
			if err != nil || f.Op != opPing || len(f.Payload) < 19 {
				t.Errorf("the silent client's first frame: op %d, %d bytes, %v; want a heartbeat ping", f.Op, len(f.Payload), err)
			}
			c, err := env.s.Connection(goodID)
			if err != nil {
				t.Fatalf("the client that answers pings was disconnected: %v", err)
			}
			wiretest.WaitUntil(t, "the answering client's PingRTT", func() bool { return c.PingRTT() > 0 })
			if !c.Connected() {
				t.Errorf("the client that answers pings is not connected")
			}
			good.Close()
			<-readerDone
		})
	}
}

// TestAttack_PerClientLimits_Issue11 checks MaxConnectionsPerIP and
// HandshakesPerMinutePerIP in the one admission both accept paths use: past
// them a client gets 429 with Retry-After, beside AllowedClients and
// BlockedClients, and a connection that ends gives its place back.
func TestAttack_PerClientLimits_Issue11(t *testing.T) {
	for _, tr := range []attackTransport{attackTransports[0], attackTransports[1], attackTransports[3]} {
		t.Run(tr.name+"/MaxConnectionsPerIP", func(t *testing.T) {
			env := startAttackEnv(t, tr, func(s *Server) {
				setConfig(t, s, "MaxConnectionsPerIP=2", "AllowedClients=127.0.0.1")
			})
			a := env.attackDial(t, false, "")
			aID := env.nextID(t)
			env.attackDial(t, false, "")
			env.nextID(t)
			refused := env.attackDial(t, false, "")
			if refused.resp.StatusCode != http.StatusTooManyRequests || refused.resp.Header.Get("Retry-After") == "" {
				t.Fatalf("a third connection from one address: %s, Retry-After %q; want 429 with Retry-After", refused.resp.Status, refused.resp.Header.Get("Retry-After"))
			}
			a.Close()
			env.ev.WaitFor(t, fmt.Sprintf("disconnected %d 1006", aID))
			// The place is given back after Disconnected has fired.
			wiretest.WaitUntil(t, "the ended connection's place to be given back", func() bool {
				env.s.mu.Lock()
				defer env.s.mu.Unlock()
				return env.s.ips["127.0.0.1"].conns < 2
			})
			if again := env.attackDial(t, false, ""); again.resp.StatusCode != http.StatusSwitchingProtocols {
				t.Errorf("after one of its connections ended, the client got %s, want 101", again.resp.Status)
			}
		})
		t.Run(tr.name+"/HandshakesPerMinutePerIP", func(t *testing.T) {
			env := startAttackEnv(t, tr, func(s *Server) { setConfig(t, s, "HandshakesPerMinutePerIP=1") })
			if first := env.attackDial(t, false, ""); first.resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("the first handshake: %s", first.resp.Status)
			}
			second := env.attackDial(t, false, "")
			if second.resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("a second handshake within the minute: %s, want 429", second.resp.Status)
			}
			if ra, _ := strconv.Atoi(second.resp.Header.Get("Retry-After")); ra < 1 || ra > 60 {
				t.Errorf("Retry-After %q, want 1-60 seconds", second.resp.Header.Get("Retry-After"))
			}
		})
	}
	t.Run("BlockedClients", func(t *testing.T) {
		env := startAttackEnv(t, attackTransports[0], func(s *Server) {
			setConfig(t, s, "MaxConnectionsPerIP=5", "BlockedClients=127.0.0.1")
		})
		nc, err := net.Dial("tcp", env.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetReadDeadline(time.Now().Add(waitLimit))
		if n, err := nc.Read(make([]byte, 1)); err == nil {
			t.Errorf("a blocked client read %d bytes, want the socket closed", n)
		}
	})
}

// TestAttack_MessageRate_Issue11 checks MaxMessagesPerSecond: a client
// sending faster is closed with 1008, one within the rate keeps its round
// trips.
func TestAttack_MessageRate_Issue11(t *testing.T) {
	for _, tr := range attackTransports {
		t.Run(tr.name, func(t *testing.T) {
			env := startAttackEnv(t, tr, func(s *Server) { setConfig(t, s, "MaxMessagesPerSecond=20") })
			good, goodID := env.goodClient(t)
			bad := env.attackDial(t, false, "")
			badID := env.nextID(t)
			var burst []byte
			for range 200 {
				burst = append(burst, wiretest.Client(true, opText, []byte("x")).Bytes()...)
			}
			bad.SetWriteDeadline(time.Now().Add(waitLimit))
			bad.Write(burst)
			env.ev.WaitFor(t, fmt.Sprintf("disconnected %d 1008", badID))
			roundTrips(t, good, 5, "beside the fast sender")
			if _, err := env.s.Connection(goodID); err != nil {
				t.Errorf("the client within the rate was disconnected: %v", err)
			}
		})
	}
}
