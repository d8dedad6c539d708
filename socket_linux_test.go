package wsserver

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/transport"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// TestEventLoop_RawSocket_Fields checks that a connection the listener
// accepts as a raw socket (EventLoop, plaintext) has the WSConnection fields
// a net.Conn gives (RemoteHost, RemotePort, LocalAddress) and the socket
// settings TcpNoDelay, KeepAliveTime and KeepAliveInterval.
func TestEventLoop_RawSocket_Fields(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		s.Config("EventLoop=true")
		s.Config("TcpNoDelay=true")
		s.Config("KeepAliveTime=7000")
		s.Config("KeepAliveInterval=3000")
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	c := h.conn(t, id)
	if !isRawSocket(c) {
		t.Fatal("the connection is not a raw socket")
	}
	client := rc.NC.LocalAddr().(*net.TCPAddr)
	if c.RemoteHost() != client.IP.String() || c.RemotePort() != client.Port {
		t.Errorf("RemoteHost:RemotePort = %s:%d, want %s:%d", c.RemoteHost(), c.RemotePort(), client.IP, client.Port)
	}
	if c.LocalAddress() != "127.0.0.1" {
		t.Errorf("LocalAddress = %q, want 127.0.0.1", c.LocalAddress())
	}
	for _, o := range []struct {
		name       string
		level, opt int
		want       int
	}{
		{"TCP_NODELAY", syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1},
		{"SO_KEEPALIVE", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 7},
		{"TCP_KEEPINTVL", syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 3},
	} {
		if got := sockoptInt(t, c, o.level, o.opt); got != o.want {
			t.Errorf("%s = %d, want %d", o.name, got, o.want)
		}
	}
}

// openFiles counts the process's open descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(ents)
}

// TestEventLoop_RawSocket_ClosesEveryDescriptor checks that raw sockets are
// closed however their connection ends: a close handshake from either side,
// a client that vanishes, a refused handshake, a failed connection.
func TestEventLoop_RawSocket_ClosesEveryDescriptor(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		s.Config("EventLoop=true")
		s.Config("CloseTimeout=0.5")
	})
	before := openFiles(t)
	for i := 0; i < 5; i++ {
		// The client closes.
		rc, _ := h.rawOpen(t, wiretest.Options{})
		rc.Write(t, true, opClose, wiretest.ClosePayload(1000, ""))
		rc.CloseFrame(t)
		rc.NC.Close()
		// The server closes.
		rc, id := h.rawOpen(t, wiretest.Options{})
		h.s.Disconnect(id)
		rc.CloseFrame(t)
		rc.Write(t, true, opClose, wiretest.ClosePayload(1000, ""))
		rc.NC.Close()
		// The client vanishes.
		rc, _ = h.rawOpen(t, wiretest.Options{})
		rc.NC.Close()
		// A protocol error fails the connection (an unmasked frame).
		rc, _ = h.rawOpen(t, wiretest.Options{})
		rc.WriteBytes(t, wiretest.Server(true, opText, []byte("x")).Bytes())
		rc.CloseFrame(t)
		rc.NC.Close()
		// A refused handshake.
		bad := rawDial(t, h.addr, wiretest.Options{Headers: []string{"Sec-WebSocket-Version: 8"}})
		bad.NC.Close()
	}
	wiretest.WaitUntil(t, "every connection to end", func() bool {
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		return h.s.active == 0
	})
	wiretest.WaitUntil(t, "the open files to return to their count", func() bool { return openFiles(t) <= before })
}

// TestEventLoop_RawSocket_SlowClient checks backpressure on a raw socket
// whose client does not read: sends fail with ErrWouldBlock while the queue
// is full, the flusher waits for the full socket through its twin, and once
// the client reads every byte arrives in order and ReadyToSend fires.
func TestEventLoop_RawSocket_SlowClient(t *testing.T) {
	var ready atomic.Int32
	h := newHarness(t, func(s *Server) {
		s.Config("EventLoop=true")
		s.Config("OutBufferSize=16384")
		s.Config("TcpNoDelay=false")
		s.Config("KeepAliveTime=7000")
		s.Events.OnReadyToSend = func(*ReadyToSendEvent) { ready.Add(1) }
	})
	rc, id := h.rawOpen(t, wiretest.Options{Control: smallRcvBuf})
	c := h.conn(t, id)
	// The connect's ReadyToSend fires after Connected, on the server's side.
	wiretest.WaitUntil(t, "the connect's ReadyToSend", func() bool { return ready.Load() == 1 })
	msg := make([]byte, 8<<10)
	var sent [][]byte
	blocked := false // a send failed with ErrWouldBlock
	full := false    // one did while the flusher had the twin: the socket is full
	deadline := time.Now().Add(waitLimit)
	// Send until the queue is full for good. The twin is made as soon as a
	// write finds the socket full, which can be before any send failed (the
	// flusher may keep the queue short until then): go on until a send fails
	// with the twin in place, so that nothing more can drain until the client
	// reads.
	for i := 0; i < 4000 && !full && time.Now().Before(deadline); i++ {
		for j := range msg {
			msg[j] = byte(i + j)
		}
		twin := hasTwin(c)
		switch err := h.s.Send(id, msg); err {
		case nil:
			sent = append(sent, bytes.Clone(msg))
		case ErrWouldBlock:
			blocked, full = true, twin
			if !full {
				time.Sleep(time.Millisecond) // the queue drains into the socket meanwhile
			}
		default:
			t.Fatal(err)
		}
	}
	if !blocked || !full {
		t.Fatalf("a client that reads nothing: ErrWouldBlock seen %v, socket waited on through its twin %v", blocked, hasTwin(c))
	}
	// ReadyToSend events of drains before the socket filled are counted
	// here, or are still on their way: the wait below also needs the
	// ReadyToSend property, false since the last ErrWouldBlock until the
	// queue has drained.
	before := ready.Load()
	// Making the twin (net.FileConn) must not change the socket's settings.
	if v := sockoptInt(t, c, syscall.IPPROTO_TCP, syscall.TCP_NODELAY); v != 0 {
		t.Errorf("TCP_NODELAY = %d after the twin was made, want 0 (TcpNoDelay=false)", v)
	}
	if v := sockoptInt(t, c, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE); v != 7 {
		t.Errorf("TCP_KEEPIDLE = %d after the twin was made, want 7 (KeepAliveTime=7000)", v)
	}
	rc.NC.SetReadDeadline(time.Now().Add(waitLimit))
	for i, want := range sent {
		f := rc.Frame(t)
		if f.Op != opBinary || !bytes.Equal(f.Payload, want) {
			t.Fatalf("message %d: op %d, %d bytes, not what was sent", i, f.Op, len(f.Payload))
		}
	}
	wiretest.WaitUntil(t, "ReadyToSend after ErrWouldBlock", func() bool { return ready.Load() > before && c.ReadyToSend() })
	if err := h.s.Send(id, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if f := rc.Frame(t); string(f.Payload) != "after" {
		t.Fatalf("got %q after the queue drained", f.Payload)
	}
}

// TestEventLoop_RawSocket_SendsNeedNoTwin checks that sends from outside the
// connection's handlers (a server push, a close) write a raw socket without
// making its twin while the socket takes the data at once.
func TestEventLoop_RawSocket_SendsNeedNoTwin(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.Config("EventLoop=true") })
	rc, id := h.rawOpen(t, wiretest.Options{})
	for i := 0; i < 20; i++ {
		if err := h.s.SendText(id, "push "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if f := rc.Frame(t); string(f.Payload) != "push "+strconv.Itoa(i) {
			t.Fatalf("got %q", f.Payload)
		}
	}
	c := h.conn(t, id)
	rc.Write(t, true, opClose, wiretest.ClosePayload(1000, "bye"))
	if code, _ := rc.CloseFrame(t); code != 1000 {
		t.Errorf("close code %d", code)
	}
	wiretest.WaitUntil(t, "the connection to end", func() bool { return !c.Connected() })
	if hasTwin(c) {
		t.Error("a raw socket that never filled got a twin")
	}
}

// TestEventLoop_ConnectionRequest_NotRaw checks that with a ConnectionRequest
// handler the listener's raw socket becomes a net.Conn for the handshake on
// a goroutine, and the event sees the client's address.
func TestEventLoop_ConnectionRequest_NotRaw(t *testing.T) {
	var seen atomic.Value
	h := newHarness(t, func(s *Server) {
		s.Config("EventLoop=true")
		s.Events.OnConnectionRequest = func(e *ConnectionRequestEvent) {
			seen.Store(e.Address + ":" + strconv.Itoa(e.Port))
		}
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	c := h.conn(t, id)
	if isRawSocket(c) {
		t.Error("the connection stayed a raw socket though ConnectionRequest needs a goroutine")
	}
	if got, want := seen.Load(), rc.NC.LocalAddr().String(); got != want {
		t.Errorf("ConnectionRequest saw %v, want %s", got, want)
	}
	rc.Write(t, true, opText, []byte("hi"))
	rc.Write(t, true, opClose, wiretest.ClosePayload(1000, ""))
	if code, _ := rc.CloseFrame(t); code != 1000 {
		t.Errorf("close code %d", code)
	}
}

// TestConnection_QuietHoldsNoBuffers checks that a connection that has
// exchanged messages and gone quiet holds no queue or message buffer (they
// go back to the shared pool), on both transports.
func TestConnection_QuietHoldsNoBuffers(t *testing.T) {
	for _, loop := range []string{"false", "true"} {
		t.Run("EventLoop="+loop, func(t *testing.T) {
			h := newHarness(t, func(s *Server) {
				s.Config("EventLoop=" + loop)
				s.Config("BufferMessage=true")
				s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
			})
			rc, id := h.rawOpen(t, wiretest.Options{})
			msg := bytes.Repeat([]byte("quiet"), 6000) // 30 KB in three fragments
			rc.WriteBytes(t, append(append(wiretest.Client(false, opBinary, msg[:10000]).Bytes(), wiretest.Client(false, opCont, msg[10000:20000]).Bytes()...), wiretest.Client(true, opCont, msg[20000:]).Bytes()...))
			if f := rc.Frame(t); !bytes.Equal(f.Payload, msg) {
				t.Fatalf("echo of %d bytes differs", len(f.Payload))
			}
			for i := 0; i < 10; i++ {
				rc.Write(t, true, opText, []byte("small "+strconv.Itoa(i)))
				rc.Frame(t)
			}
			c := h.conn(t, id)
			wiretest.WaitUntil(t, "the queue to drain", func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.sendState != nil && c.q.idleLocked()
			})
			c.mu.Lock()
			out := cap(c.q.out)
			c.mu.Unlock()
			if out != 0 {
				t.Errorf("a quiet connection holds a %d-byte queue buffer", out)
			}
			// The reader is quiet (its last message was answered), so its
			// fields can be read here.
			if c.readState != nil && cap(c.msgBuf) != 0 {
				t.Errorf("a quiet connection holds a %d-byte message buffer", cap(c.msgBuf))
			}
		})
	}
}

// isRawSocket reports whether c is on a raw socket.
func isRawSocket(c *Connection) bool {
	raw, _ := transport.Raw(c.sock)
	return raw
}

// hasTwin reports whether c is on a raw socket that made its twin.
func hasTwin(c *Connection) bool {
	_, twin := transport.Raw(c.sock)
	return twin
}
