package wsserver

import (
	"bytes"
	stdflate "compress/flate"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/transport"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// TestAttack_OverBudget_Issue11 plays the rows of issue 11's table where
// clients that never read make the server hold their output ("20 broadcast
// readers + 100 clients that never read", and the flood of messages whose
// echoes are never read), with the one server-wide answer: "Over the
// budget, the server stops reading from the heaviest offenders first and
// cuts those that stay over with a stated close code (1008 or 1013) and a
// Log/Error entry — never the well-behaved." Attackers send 16 KiB messages
// as fast as they can and never read; the application sends each of them
// 16 KiB messages as fast as they are taken. Their queues grow
// (SendQueueSize is far away) until the server is over MemoryBudget. Then
// an offender's reading stops after the batch that crossed it, sends to it
// fail with ErrWouldBlock, the budget sweep holds back the heaviest, and
// after OverBudgetTimeout cuts them off with 1013 and an Error event (or a
// message of theirs that cannot grow is refused with 1013), while a
// well-behaved client keeps its round trips. The accounted memory's peak
// stays within the budget plus what each attacker can add after the
// crossing (a read batch's echo and a message on top of its share, in the
// queue's doubling buffer classes).
func TestAttack_OverBudget_Issue11(t *testing.T) {
	const (
		budget    = 4 << 20
		maxConns  = 16
		share     = budget / maxConns
		attackers = 3
		msgSize   = 16 << 10
	)
	// After the crossing an attacker adds at most a read batch's echo
	// (transport.LoopBufferSize on an event loop, less elsewhere) to a queue over its
	// share, in a buffer at most twice that, plus the message it assembles.
	const slackEach = 2*(share+outAllowance+2*transport.LoopBufferSize) + 2*msgSize + 4<<10
	var chunk []byte
	for range 4 {
		chunk = append(chunk, wiretest.Client(true, opBinary, bytes.Repeat([]byte{'x'}, msgSize)).Bytes()...)
	}
	for _, tr := range attackTransports {
		t.Run(tr.name, func(t *testing.T) {
			env := startAttackEnv(t, tr, func(s *Server) {
				setConfig(t, s, "MemoryBudget="+strconv.Itoa(budget), "MaxConnections="+strconv.Itoa(maxConns),
					"SendQueueSize="+strconv.Itoa(64<<20), "SlowClientTimeout=0", "OverBudgetTimeout=0.5",
					"CloseTimeout=1") // a message refused with 1013 closes with a handshake the attacker does not read
			})
			good, goodID := env.goodClient(t)
			ids := map[int]bool{}
			for range attackers {
				a := env.attackDial(t, true, "")
				if a.resp.StatusCode != http.StatusSwitchingProtocols {
					t.Fatalf("attacker's handshake answered %s", a.resp.Status)
				}
				ids[env.nextID(t)] = true
				// The flood ends when the server cuts the connection, or when
				// the test's cleanup closes it.
				go a.flood(chunk, 3*waitLimit)
			}
			stop := make(chan struct{})
			sent := make(chan int, 1)
			go func() { // the application's sends to the clients that never read
				msg := make([]byte, msgSize)
				n := 0
				defer func() { sent <- n }()
				for i := 0; i < 1_000_000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					for id := range ids {
						if env.s.SendMessage(id, FormatBinary, msg) == nil {
							n++
						}
					}
					if i%64 == 63 {
						time.Sleep(time.Millisecond) // let the readers in
					}
				}
			}()
			roundTrips(t, good, 30, "during the flood")

			// At least one attacker is cut off with 1013, and an Error event
			// (1013) says why.
			var cutID int
			env.ev.WaitMatch(t, "an attacker disconnected with 1013", func(e string) bool {
				var id, code int
				if n, _ := fmt.Sscanf(e, "disconnected %d %d", &id, &code); n == 2 && ids[id] && code == 1013 {
					cutID = id
					return true
				}
				return false
			})
			msg := env.ev.WaitPrefix(t, fmt.Sprintf("error %d 1013 ", cutID))
			if !strings.Contains(msg, "memory budget") {
				t.Errorf("the cut's Error event %q does not say why", msg)
			}
			roundTrips(t, good, 10, "after the cut")
			close(stop)
			t.Logf("the application queued %d messages to the attackers", wiretest.Receive(t, sent, "the sender to stop"))
			// Once what the cut attackers held is back, the server is within
			// its budget.
			wiretest.WaitUntil(t, "MemoryInUse within the budget", func() bool { return env.s.MemoryInUse() <= budget })
			if peak, limit := env.s.mem.peak.Load(), int64(budget+attackers*slackEach); peak > limit {
				t.Errorf("accounted memory peaked at %d bytes, over the budget %d plus %d attackers' slack (%d)", peak, budget, attackers, limit)
			} else {
				t.Logf("accounted memory peaked at %d bytes (budget %d)", peak, budget)
			}
			// Each attacker cut is reported by one Error event.
			wiretest.WaitUntil(t, "the cut attacker to end", func() bool {
				_, err := env.s.Connection(cutID)
				return err != nil
			})
			errs := map[int]int{}
			for _, e := range env.ev.Snapshot() {
				var id, code int
				if n, _ := fmt.Sscanf(e, "error %d %d", &id, &code); n == 2 {
					errs[id]++
				}
				if n, _ := fmt.Sscanf(e, "disconnected %d %d", &id, &code); n == 2 && (id == goodID || code != 1013) {
					t.Errorf("unexpected %q: only attackers are cut, with 1013", e)
				}
				if strings.HasPrefix(e, fmt.Sprintf("error %d ", goodID)) {
					t.Errorf("the well-behaved client got %q", e)
				}
			}
			if errs[cutID] != 1 {
				t.Errorf("the cut attacker %d was reported by %d Error events, want 1: %q", cutID, errs[cutID], env.ev.Snapshot())
			}
		})
	}
}

// TestBudget_ChargesHeadsAndDecompressor_Issue11 checks that the memory
// budget accounts what issue 11 lists beside messages and queues: the
// stored request head (RequestHeaders and the other fields kept from the
// opening handshake) from the moment the connection opens, and the
// decompressor's buffered input of a compressed message that has not ended
// yet, each given back when the connection ends, on every transport.
func TestBudget_ChargesHeadsAndDecompressor_Issue11(t *testing.T) {
	for _, tr := range attackTransports {
		t.Run(tr.name, func(t *testing.T) {
			env := startAttackEnv(t, tr, nil)
			base := env.s.MemoryInUse()

			// A 12 KiB request head.
			big := env.attackDial(t, false, upgradeHead(env.addr, env.path, []string{"X-Fill: " + strings.Repeat("h", 12<<10)}))
			bigID := env.nextID(t)
			c, err := env.s.Connection(bigID)
			if err != nil {
				t.Fatal(err)
			}
			held := env.s.MemoryInUse() - base
			if stored := int64(len(c.RequestHeaders()) + len(c.RequestURI())); held < stored || held < 12<<10 {
				t.Errorf("a connection storing a %d-byte request head is charged %d bytes", stored, held)
			}
			big.Close()
			env.ev.WaitFor(t, fmt.Sprintf("disconnected %d 1006", bigID))
			wiretest.WaitUntil(t, "the head's bytes to be given back", func() bool { return env.s.MemoryInUse() == base })

			// The first 96 KiB of a compressed message, without its end: the
			// decompressor holds them (BufferMessage inflates whole messages).
			ext := []string{"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover"}
			z := deflateRandom(t, 200<<10)
			a := env.attackDial(t, false, upgradeHead(env.addr, env.path, ext))
			aID := env.nextID(t)
			withHead := env.s.MemoryInUse()
			a.SetWriteDeadline(time.Now().Add(waitLimit))
			if _, err := a.Write(wiretest.Client(false, opBinary|0x40, z[:96<<10]).Bytes()); err != nil {
				t.Fatal(err)
			}
			wiretest.WaitUntil(t, "the compressed input to be charged", func() bool { return env.s.MemoryInUse()-withHead >= 96<<10 })
			// The input buffer may come from a pool (up to 1 MiB), or grow
			// by doubling: either way its whole capacity is charged.
			if n := env.s.MemoryInUse() - withHead; n > 1<<20+4<<10 {
				t.Errorf("96 KiB of compressed input are charged %d bytes, more than a pooled or doubled buffer", n)
			}
			a.Close()
			env.ev.WaitFor(t, fmt.Sprintf("disconnected %d 1006", aID))
			wiretest.WaitUntil(t, "the decompressor's bytes to be given back", func() bool { return env.s.MemoryInUse() == base })
		})
	}
}

// deflateRandom returns the permessage-deflate payload of n random (so
// incompressible) bytes.
func deflateRandom(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := stdflate.NewWriter(&b, stdflate.BestSpeed)
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{1}).Read(p)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// TestAttack_SlowAndIdleHTTP_Issue11 plays two rows of issue 11's table on
// every transport: "HTTP keep-alive connections after one plain GET, then
// silence" and "slow handshakes" with HandshakeTimeout set: a whole plain
// request followed by silence, and a request head that never ends, are
// both closed by the server after HandshakeTimeout; neither stays open. On
// net/http, ConfigureHTTPServer gives the http.Server the timeouts.
func TestAttack_SlowAndIdleHTTP_Issue11(t *testing.T) {
	for _, tr := range attackTransports {
		t.Run(tr.name, func(t *testing.T) {
			setup := func(s *Server) { setConfig(t, s, "HandshakeTimeout=0.5") }
			var addr string
			var conf *tls.Config
			if tr.http {
				checkGoroutines(t)
				s := New()
				setup(s)
				mux := http.NewServeMux()
				mux.Handle("/ws", s)
				mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain") })
				hs := httptest.NewUnstartedServer(mux)
				s.ConfigureHTTPServer(hs.Config)
				hs.Start()
				t.Cleanup(hs.Close)
				t.Cleanup(func() { s.Shutdown() })
				addr = hs.Listener.Addr().String()
			} else {
				env := startAttackEnv(t, tr, setup)
				addr, conf = env.addr, env.tlsConf
			}
			for _, req := range []string{
				"GET / HTTP/1.1\r\nHost: x\r\n\r\n", // a whole plain request, then silence
				"GET / HTTP/1.1\r\nHost: x\r\n",     // a head that never ends
			} {
				nc, err := net.DialTimeout("tcp", addr, waitLimit)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				if conf != nil {
					tc := tls.Client(nc, conf)
					tc.SetDeadline(time.Now().Add(waitLimit))
					if err := tc.Handshake(); err != nil {
						t.Fatalf("TLS handshake: %v", err)
					}
					nc = tc
				}
				nc.SetDeadline(time.Now().Add(waitLimit))
				if _, err := io.WriteString(nc, req); err != nil {
					t.Fatal(err)
				}
				// The response, if any, then the end of the connection; a
				// reset counts as closed too.
				_, err = io.Copy(io.Discard, nc)
				if isTimeout(err) {
					t.Errorf("after %q and silence, the connection was still open after %v", req, waitLimit)
				}
			}
		})
	}
}

// TestBudgetPause_ResumeAndClose_Issue11 checks the budget sweep's hold on
// a connection on every transport: a connection held back reads again when
// the sweep resumes it (its messages arrive then, none lost), and a
// connection held back can still be closed (Disconnect wakes its reader to
// read the client's close frame).
func TestBudgetPause_ResumeAndClose_Issue11(t *testing.T) {
	for _, tr := range attackTransports {
		t.Run(tr.name, func(t *testing.T) {
			env := startAttackEnv(t, tr, nil)
			conn, id := env.goodClient(t)
			roundTrips(t, conn, 2, "before the hold")
			c, err := env.s.Connection(id)
			if err != nil {
				t.Fatal(err)
			}
			if !c.pauseForBudget() {
				t.Fatal("pauseForBudget refused an open connection")
			}
			// Sent while held back: it arrives (and is echoed) once resumed.
			conn.SetWriteDeadline(time.Now().Add(waitLimit))
			if err := conn.WriteMessage(websocket.TextMessage, []byte("held back")); err != nil {
				t.Fatal(err)
			}
			c.resumeForBudget()
			conn.SetReadDeadline(time.Now().Add(waitLimit))
			if _, got, err := conn.ReadMessage(); err != nil || string(got) != "held back" {
				t.Fatalf("after the resume: %q, %v; want the message sent while held back", got, err)
			}
			roundTrips(t, conn, 2, "after the resume")

			// Held back again, then disconnected by the application: a
			// goroutine reader waits in its hold (before or after reading
			// the message sent meanwhile), and must wake to read the
			// client's close frame.
			c.pauseForBudget()
			conn.WriteMessage(websocket.TextMessage, []byte("then closed"))
			if err := env.s.Disconnect(id); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 100; i++ { // gorilla answers the close frame as it reads it
				conn.SetReadDeadline(time.Now().Add(waitLimit))
				if _, _, err := conn.ReadMessage(); err != nil {
					break
				}
			}
			env.ev.WaitFor(t, fmt.Sprintf("disconnected %d 1000", id))
		})
	}
}
