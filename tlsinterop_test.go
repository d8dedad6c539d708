package wsserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/wiretest"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
)

// The Go peer clients over wss://: gorilla/websocket and coder/websocket
// (through net/http's TLS), with compression, large messages that span
// many TLS records, and clients in parallel.

// tlsEchoServer starts a UseSSL echo server (whole messages).
func tlsEchoServer(t *testing.T, env *tlsEnv, settings ...string) *harness {
	t.Helper()
	return env.start(t, func(s *Server) {
		setConfig(t, s, append([]string{"BufferMessage=True"}, settings...)...)
		s.Events.OnDataIn = func(e *DataInEvent) {
			if err := s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB); err != nil {
				t.Errorf("echo: %v", err)
			}
		}
	})
}

func TestTLSInterop_Gorilla(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	for _, protocols := range []string{"4032", "12288"} {
		h := tlsEchoServer(t, env, "SSLEnabledProtocols="+protocols)
		for _, compress := range []bool{false, true} {
			d := websocket.Dialer{HandshakeTimeout: waitLimit, TLSClientConfig: env.client(), EnableCompression: compress}
			conn, _, err := d.Dial(h.url, nil)
			if err != nil {
				t.Fatalf("gorilla wss dial (compression %v): %v", compress, err)
			}
			big := make([]byte, 3<<20) // many 16 KiB TLS records
			rand.Read(big)
			for _, m := range []struct {
				typ  int
				data []byte
			}{{websocket.TextMessage, []byte("hello over TLS")}, {websocket.BinaryMessage, big}} {
				if err := conn.WriteMessage(m.typ, m.data); err != nil {
					t.Fatal(err)
				}
				typ, p := readMessage(t, conn)
				if typ != m.typ || !bytes.Equal(p, m.data) {
					t.Fatalf("echo of %d bytes: type %d, %d bytes back", len(m.data), typ, len(p))
				}
			}
			conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "done"))
			if code, _ := readClose(t, conn); code != 4001 {
				t.Fatalf("the close handshake answered %d", code)
			}
			conn.Close()
		}
	}
}

func TestTLSInterop_Coder(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	h := tlsEchoServer(t, env, "SSLEnabledProtocols=15360")
	tr := &http.Transport{TLSClientConfig: env.client()}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
	defer cancel()
	for _, mode := range []coder.CompressionMode{coder.CompressionDisabled, coder.CompressionContextTakeover} {
		conn, _, err := coder.Dial(ctx, h.url, &coder.DialOptions{HTTPClient: &http.Client{Transport: tr}, CompressionMode: mode})
		if err != nil {
			t.Fatalf("coder wss dial: %v", err)
		}
		conn.SetReadLimit(16 << 20)
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, compressible
		for _, m := range []struct {
			typ  coder.MessageType
			data []byte
		}{{coder.MessageText, []byte("hello from coder")}, {coder.MessageBinary, big}} {
			if err := conn.Write(ctx, m.typ, m.data); err != nil {
				t.Fatal(err)
			}
			typ, p, err := conn.Read(ctx)
			if err != nil || typ != m.typ || !bytes.Equal(p, m.data) {
				t.Fatalf("coder echo: %v, type %v, %d bytes", err, typ, len(p))
			}
		}
		if err := conn.Close(coder.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("coder close: %v", err)
		}
	}
}

func TestTLSInterop_ParallelClients(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	h := tlsEchoServer(t, env, "SSLEnabledProtocols=15360")
	const clients = 16
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conf := env.client()
			if i%2 == 0 {
				conf.MaxVersion = tls.VersionTLS12
			}
			d := websocket.Dialer{HandshakeTimeout: waitLimit, TLSClientConfig: conf}
			conn, _, err := d.Dial(h.url, nil)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			for j := range 20 {
				msg := []byte("client " + strconv.Itoa(i) + " message " + strconv.Itoa(j))
				if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
					errs <- err
					return
				}
				conn.SetReadDeadline(time.Now().Add(waitLimit))
				if _, p, err := conn.ReadMessage(); err != nil || !bytes.Equal(p, msg) {
					errs <- fmt.Errorf("client %d: echo %q, %v", i, p, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("client: %v", err)
	}
}

func TestTLS_DispatchQueued(t *testing.T) {
	// With DispatchQueued the handshake's events wait for DoEvents like the
	// others, and packet messages of writes made inside DoEvents are queued
	// without waiting (they would wait for themselves).
	env := newTLSEnv(t)
	client := withClientCert(env.client(), env.leaf)
	ev := wiretest.NewRecorder()
	h := env.start(t, func(s *Server) {
		s.SetEventDispatch(DispatchQueued)
		doEventsLoop(t, s) // stops after the server's cleanup
		mustOK(t, s.SetSSLAuthenticateClients(true))
		setConfig(t, s, "SSLCACerts="+string(env.ca.CertPEM()), "LogSSLPackets=True", "BufferMessage=True", "SSLEnabledProtocols=15360")
		s.Events.OnSSLStatus = func(e *SSLStatusEvent) { ev.Add("%s", e.Message) }
		s.Events.OnSSLConnectionRequest = func(e *SSLConnectionRequestEvent) { ev.Add("request") }
		s.Events.OnSSLClientAuthentication = clientAuthLog(ev, nil)
		s.Events.OnDataIn = func(e *DataInEvent) { s.SendText(e.ConnectionID, "queued "+e.Text()) }
	})
	conn, _, id := wssOpen(t, h, client)
	for range 3 {
		conn.WriteMessage(websocket.TextMessage, []byte("hi"))
		if _, p := readMessage(t, conn); string(p) != "queued hi" {
			t.Fatalf("echo %q", p)
		}
	}
	ev.WaitFor(t, "request")
	ev.WaitFor(t, strconv.Itoa(id)+"|CN=server.test|CN=Test CA, O=Test CA Org|OK|true|1")
	ev.WaitPrefix(t, "Sent TLS record: ApplicationData")
}
