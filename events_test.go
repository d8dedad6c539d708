package wsserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of the reference's events. The SSL events belong to the TLS tests;
// a handler that panics is in panic_test.go.

func TestConnected_FiresWhenWebSocketOpens(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) { ev.Add("Open %d", e.ConnectionID) }
		s.Events.OnConnected = func(e *ConnectedEvent) {
			// The connection is in Connections and usable from the event.
			c, err := s.Connection(e.ConnectionID)
			ev.Add("Connected %d %v %v", e.ConnectionID, err == nil, c != nil && c.Connected())
			s.SendText(e.ConnectionID, "welcome")
		}
	})
	conn, id := h.dial(t, "/", nil)
	list := ev.WaitFor(t, fmt.Sprintf("Connected %d true true", id))
	if list[0] != fmt.Sprintf("Open %d", id) {
		t.Fatalf("events %q: WebSocketOpenRequest must come first, for the same ConnectionId", list)
	}
	if _, p := readMessage(t, conn); string(p) != "welcome" {
		t.Fatalf("client got %q", p)
	}
}

func TestConnectionRequest_AddressAndPort(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnConnectionRequest = func(e *ConnectionRequestEvent) {
			ev.Add("ConnectionRequest %s %d %v", e.Address, e.Port, e.Accept)
		}
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) { ev.Add("Open") }
	})
	conn, _ := h.dial(t, "/", nil)
	port := portOf(t, conn.LocalAddr().String())
	list := ev.WaitFor(t, "Open")
	if want := fmt.Sprintf("ConnectionRequest 127.0.0.1 %d true", port); list[0] != want {
		t.Fatalf("events %q, want %q first", list, want)
	}
}

func TestConnectionRequest_AcceptFalseRefuses(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnConnectionRequest = func(e *ConnectionRequestEvent) { e.Accept = false }
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) { ev.Add("Open") }
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected") }
	})
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	if conn, _, err := d.Dial(h.url, nil); err == nil {
		conn.Close()
		t.Fatal("a refused client could open a WebSocket")
	}
	if n := h.s.ConnectionCount(); n != 0 {
		t.Fatalf("%d connections after a refusal", n)
	}
	if list := ev.Snapshot(); len(list) != 0 {
		t.Fatalf("events after a refusal in ConnectionRequest: %q", list)
	}
}

// acceptedWith opens a client and reports whether it was accepted, and the
// Accept value ConnectionRequest started with (read from ev).
func acceptedWith(t *testing.T, h *harness, ev *wiretest.Recorder) (opened, initial bool) {
	t.Helper()
	before := len(ev.Snapshot())
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	conn, _, err := d.Dial(h.url, nil)
	if err == nil {
		conn.Close()
		h.nextID(t)
	}
	var last string
	ev.WaitMatch(t, "ConnectionRequest", func(string) bool {
		list := ev.Snapshot()
		if len(list) > before {
			last = list[before]
			return true
		}
		return false
	})
	return err == nil, last == "Accept=true"
}

func TestConnectionRequest_AllowedClientsSetsAccept(t *testing.T) {
	ev := wiretest.NewRecorder()
	var override atomic.Bool
	h := newHarness(t, func(s *Server) {
		s.Events.OnConnectionRequest = func(e *ConnectionRequestEvent) {
			ev.Add("Accept=%v", e.Accept)
			if override.Load() {
				e.Accept = true
			}
		}
	})
	if v, _ := h.s.Config("AllowedClients"); v != "*" {
		t.Fatalf("AllowedClients default = %q, want *", v)
	}
	for _, tc := range []struct {
		allowed string
		accept  bool
	}{
		{"*", true},
		{"127.0.0.1", true},
		{"127.0.0.*", true},
		{"127.*", true},
		{"127.0.0.?", true},
		{"10.*", false},
		{"10.0.0.1, 192.168.*", false},
		{"10.0.0.1, 127.0.*", true},
		{"127.0.0.2", false},
	} {
		if _, err := h.s.Config("AllowedClients=" + tc.allowed); err != nil {
			t.Fatal(err)
		}
		// Reference: "If there is no match, the ConnectionRequest event fires
		// with an Accept value set to False. If no action is taken within the
		// ConnectionRequest event, the client will be disconnected."
		opened, initial := acceptedWith(t, h, ev)
		if initial != tc.accept || opened != tc.accept {
			t.Fatalf("AllowedClients=%q: Accept started %v and the client was accepted: %v; want %v", tc.allowed, initial, opened, tc.accept)
		}
	}
	// The handler's value decides.
	override.Store(true)
	h.s.Config("AllowedClients=10.*")
	if opened, initial := acceptedWith(t, h, ev); initial || !opened {
		t.Fatalf("handler setting Accept=true: started %v, opened %v", initial, opened)
	}
}

func TestConnectionRequest_BlockedClientsSetsAccept(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnConnectionRequest = func(e *ConnectionRequestEvent) { ev.Add("Accept=%v", e.Accept) }
	})
	if v, _ := h.s.Config("BlockedClients"); v != "" {
		t.Fatalf("BlockedClients default = %q, want empty", v)
	}
	for _, tc := range []struct {
		blocked string
		accept  bool
	}{
		{"", true},
		{"127.0.0.1", false},
		{"127.*", false},
		{"*", false},
		{"127.0.0.?", false},
		{"10.*", true},
		{"10.0.0.1, 127.0.0.*", false},
		{"127.0.0.2", true},
	} {
		if _, err := h.s.Config("BlockedClients=" + tc.blocked); err != nil {
			t.Fatal(err)
		}
		opened, initial := acceptedWith(t, h, ev)
		if initial != tc.accept || opened != tc.accept {
			t.Fatalf("BlockedClients=%q: Accept started %v and the client was accepted: %v; want %v", tc.blocked, initial, opened, tc.accept)
		}
	}
}

func TestConnectionRequest_AllowedClientsHostNames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	names, _ := net.DefaultResolver.LookupAddr(ctx, "127.0.0.1")
	cancel()
	var name string
	for _, n := range names {
		if n = strings.TrimSuffix(n, "."); n != "" && !strings.ContainsAny(n, "*?[") {
			name = n
			break
		}
	}
	if name == "" {
		t.Skip("127.0.0.1 has no host name here (no PTR or /etc/hosts entry)")
	}
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnConnectionRequest = func(e *ConnectionRequestEvent) { ev.Add("Accept=%v", e.Accept) }
	})
	h.s.Config("AllowedClients=" + strings.ToUpper(name[:1]) + name[1:]) // host names match without case
	if opened, initial := acceptedWith(t, h, ev); !initial || !opened {
		t.Fatalf("AllowedClients=%s (127.0.0.1's name): started %v, opened %v", name, initial, opened)
	}
	h.s.Config("AllowedClients=no-such-host.invalid")
	if opened, initial := acceptedWith(t, h, ev); initial || opened {
		t.Fatalf("AllowedClients of another name: started %v, opened %v", initial, opened)
	}
}

// dataIn formats a DataIn event for comparison.
func dataIn(e *DataInEvent) string {
	return fmt.Sprintf("%d %q eom=%v eol=%v", e.DataFormat, e.Text(), e.EOM, e.EOL)
}

func TestDataIn_DataFormatAndEOMPerFragment(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDataIn = func(e *DataInEvent) { ev.Add("%s", dataIn(e)) }
	})
	rc, _ := h.rawOpen(t, wiretest.Options{})
	// A text message in three fragments, with a control frame between them,
	// then a binary message in two, then an unfragmented text message.
	rc.Write(t, false, opText, []byte("Hel"))
	rc.Write(t, false, opCont, []byte("lo "))
	rc.Write(t, true, opPing, []byte("between"))
	rc.Write(t, true, opCont, []byte("World"))
	rc.Write(t, false, opBinary, []byte{1, 2})
	rc.Write(t, true, opCont, []byte{3})
	rc.Write(t, true, opText, []byte("whole"))
	got := ev.WaitFor(t, `1 "whole" eom=true eol=false`)
	want := []string{
		// Reference: DataFormat 1 is UTF-8, 2 binary, 0 "a continuation packet".
		`1 "Hel" eom=false eol=false`,
		`0 "lo " eom=false eol=false`,
		`0 "World" eom=true eol=false`,
		`2 "\x01\x02" eom=false eol=false`,
		`0 "\x03" eom=true eol=false`,
		`1 "whole" eom=true eol=false`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("DataIn events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f := rc.Frame(t); f.Op != opPong || string(f.Payload) != "between" {
		t.Fatalf("got frame op %d %q, want the pong", f.Op, f.Payload)
	}
}

func TestDataIn_TextPiecesAreWholeUTF8(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDataIn = func(e *DataInEvent) { ev.Add("%s", dataIn(e)) }
	})
	rc, _ := h.rawOpen(t, wiretest.Options{})
	// "é" is C3 A9: split between two fragments it is delivered whole, in
	// the second piece, so that Text is always a valid string.
	rc.Write(t, false, opText, []byte("caf\xc3"))
	rc.Write(t, true, opCont, []byte("\xa9!"))
	got := ev.WaitFor(t, `0 "é!" eom=true eol=false`)
	if got[0] != `1 "caf" eom=false eol=false` {
		t.Fatalf("DataIn events %q", got)
	}
}

func TestDataIn_LargeMessageInPieces(t *testing.T) {
	var got bytes.Buffer
	var formats []DataFormat
	done := make(chan struct{})
	h := newHarness(t, func(s *Server) {
		s.Events.OnDataIn = func(e *DataInEvent) {
			got.Write(e.TextB)
			formats = append(formats, e.DataFormat)
			if e.EOM {
				close(done)
			}
		}
	})
	conn, _ := h.dial(t, "/", nil)
	msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB in one frame
	if err := conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		t.Fatal(err)
	}
	wiretest.Receive(t, done, "the last piece")
	if !bytes.Equal(got.Bytes(), msg) {
		t.Fatalf("pieces add up to %d bytes, want the %d sent", got.Len(), len(msg))
	}
	// Reference: "Larger messages will be fragmented and will cause the
	// event to fire multiple times."
	if len(formats) < 2 {
		t.Fatalf("a 1 MiB message fired DataIn %d time(s); want it in pieces as it arrives", len(formats))
	}
	if formats[0] != FormatBinary {
		t.Fatalf("first piece DataFormat %d, want 2", formats[0])
	}
	for i, f := range formats[1:] {
		if f != FormatAutomatic {
			t.Fatalf("piece %d DataFormat %d, want 0 (continuation)", i+1, f)
		}
	}
}

func TestDataIn_BufferMessage(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		if _, err := s.Config("BufferMessage=True"); err != nil {
			t.Fatal(err)
		}
		s.Events.OnDataIn = func(e *DataInEvent) { ev.Add("%s", dataIn(e)) }
	})
	if v, _ := New().Config("BufferMessage"); v != "False" {
		t.Fatalf("BufferMessage default = %q, want False", v)
	}
	rc, _ := h.rawOpen(t, wiretest.Options{})
	rc.Write(t, false, opText, []byte("Hel"))
	rc.Write(t, false, opCont, []byte("lo "))
	rc.Write(t, true, opCont, []byte("World"))
	rc.Write(t, false, opBinary, []byte{1, 2})
	rc.Write(t, true, opCont, []byte{3})
	got := ev.WaitFor(t, `2 "\x01\x02\x03" eom=true eol=false`)
	if len(got) != 2 || got[0] != `1 "Hello World" eom=true eol=false` {
		t.Fatalf("DataIn events with BufferMessage: %q", got)
	}
}

func TestDisconnected_ClientCloseStatusAndDescription(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDisconnected = func(e *DisconnectedEvent) {
			ev.Add("Disconnected %d %d %q", e.ConnectionID, e.StatusCode, e.Description)
		}
	})
	for _, tc := range []struct {
		code   int
		reason string
	}{{1000, "bye"}, {1001, "going"}, {4001, "app specific"}, {3000, ""}} {
		conn, id := h.dial(t, "/", nil)
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(tc.code, tc.reason))
		// The server echoes the client's code.
		if code, _ := readClose(t, conn); code != tc.code {
			t.Fatalf("server answered close %d with %d", tc.code, code)
		}
		ev.WaitFor(t, fmt.Sprintf("Disconnected %d %d %q", id, tc.code, tc.reason))
	}
	// A close frame without a code ends the connection with 1005.
	rc, id := h.rawOpen(t, wiretest.Options{})
	rc.Write(t, true, opClose, nil)
	rc.CloseFrame(t)
	ev.WaitFor(t, fmt.Sprintf("Disconnected %d 1005 %q", id, ""))
}

func TestDisconnected_ServerClose(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Config("CloseTimeout=0.2")
		s.Events.OnDisconnected = func(e *DisconnectedEvent) {
			ev.Add("Disconnected %d %d %q", e.ConnectionID, e.StatusCode, e.Description)
		}
	})
	// The client answers: the connection ends with the client's code.
	conn, id := h.dial(t, "/", nil)
	h.s.DisconnectWithCode(id, 4005, "server says bye")
	readClose(t, conn)
	ev.WaitFor(t, fmt.Sprintf("Disconnected %d 4005 %q", id, ""))
	// The client does not answer: it ends with the server's code and reason.
	rc, id2 := h.rawOpen(t, wiretest.Options{})
	h.s.DisconnectWithCode(id2, 4006, "no answer")
	rc.CloseFrame(t)
	ev.WaitFor(t, fmt.Sprintf("Disconnected %d 4006 %q", id2, "no answer"))
}

func TestDisconnected_AbnormalDrop1006(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d %d", e.ConnectionID, e.StatusCode) }
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	rc.NC.Close() // no close frame
	ev.WaitFor(t, fmt.Sprintf("Disconnected %d 1006", id))
	// Also in the middle of a message.
	rc2, id2 := h.rawOpen(t, wiretest.Options{})
	rc2.WriteBytes(t, wiretest.Client(true, opBinary, make([]byte, 1000)).Bytes()[:500])
	rc2.NC.Close()
	ev.WaitFor(t, fmt.Sprintf("Disconnected %d 1006", id2))
}

func TestDisconnected_NotFiredForRefusedHandshake(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) {
			if e.RequestURI == "/refuse" {
				e.StatusCode = 403
			}
		}
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected") }
		s.Events.OnConnected = func(e *ConnectedEvent) { ev.Add("Connected") }
	})
	rc := rawDial(t, h.addr, wiretest.Options{Path: "/refuse"})
	if rc.Resp.StatusCode != 403 {
		t.Fatalf("status %d", rc.Resp.StatusCode)
	}
	rc.ReadEOF(t)
	// A connection that opens after it proves the first one's events are done.
	h.dial(t, "/", nil)
	if got := ev.Snapshot(); len(got) != 1 || got[0] != "Connected" {
		t.Fatalf("events %q, want only the second client's Connected", got)
	}
}

func TestError_ProtocolError1002(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnError = func(e *ErrorEvent) { ev.Add("Error %d %d", e.ConnectionID, e.ErrorCode) }
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d %d", e.ConnectionID, e.StatusCode) }
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	rc.WriteBytes(t, wiretest.Server(true, opText, []byte("unmasked")).Bytes()) // RFC 6455 5.1: clients mask
	if code, _ := rc.CloseFrame(t); code != 1002 {
		t.Fatalf("server closed with %d, want 1002", code)
	}
	ev.WaitFor(t, fmt.Sprintf("Error %d 1002", id))
	rc.NC.Close()
	ev.WaitFor(t, fmt.Sprintf("Disconnected %d 1002", id))
}

func TestError_InvalidUTF8_1007(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnError = func(e *ErrorEvent) { ev.Add("Error %d %d %v", e.ConnectionID, e.ErrorCode, e.Description != "") }
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	rc.Write(t, true, opText, []byte("bad \xff text"))
	if code, _ := rc.CloseFrame(t); code != 1007 {
		t.Fatalf("server closed with %d, want 1007", code)
	}
	ev.WaitFor(t, fmt.Sprintf("Error %d 1007 true", id))
}

// logged records Log events as "level type: message".
type logged struct{ *wiretest.Recorder }

func (l logged) handler(e *LogEvent) {
	l.Add("%d %s %d: %s", e.LogLevel, e.LogType, e.ConnectionID, e.Message)
}

func TestLog_LogLevels(t *testing.T) {
	for level := 0; level <= 3; level++ {
		t.Run("LogLevel="+strconv.Itoa(level), func(t *testing.T) {
			l := logged{wiretest.NewRecorder()}
			h := newHarness(t, func(s *Server) {
				if _, err := s.Config("LogLevel=" + strconv.Itoa(level)); err != nil {
					t.Fatal(err)
				}
				s.Events.OnLog = l.handler
				s.Events.OnDataIn = func(e *DataInEvent) {
					if e.Text() == "panic" {
						panic("deliberate")
					}
				}
			})
			conn, id := h.dial(t, "/", nil)
			conn.WriteMessage(websocket.TextMessage, []byte("panic")) // a debug entry: the stack
			readClose(t, conn)
			conn.Close()
			wiretest.WaitUntil(t, "the connection to end", func() bool { return h.s.ConnectionCount() == 0 })
			if level == 0 {
				time.Sleep(100 * time.Millisecond)
				if got := l.Snapshot(); len(got) != 0 {
					t.Fatalf("LogLevel 0 logged %q", got)
				}
				return
			}
			l.WaitPrefix(t, "1 Info "+strconv.Itoa(id)+": Accepted connection")
			if level >= 2 {
				l.WaitPrefix(t, "2 Verbose "+strconv.Itoa(id)+": Request headers")
			}
			if level >= 3 {
				l.WaitPrefix(t, "3 Debug "+strconv.Itoa(id)+": goroutine")
			}
			for _, e := range l.Snapshot() {
				lv, _ := strconv.Atoi(e[:1])
				if lv < 1 || lv > level {
					t.Fatalf("LogLevel %d logged an entry of level %d: %s", level, lv, e)
				}
				typ := strings.Fields(e)[1]
				if want := map[int]string{1: "Info", 2: "Verbose", 3: "Debug"}[lv]; typ != want && typ != "Error" {
					t.Fatalf("entry of level %d has LogType %s: %s", lv, typ, e)
				}
			}
		})
	}
}

func TestLog_LogTypeError(t *testing.T) {
	// Reference: LogType is one of "Info", "Error", "Verbose", "Debug".
	l := logged{wiretest.NewRecorder()}
	h := newHarness(t, func(s *Server) { s.Events.OnLog = l.handler })
	rc, id := h.rawOpen(t, wiretest.Options{})
	rc.Write(t, true, opText, []byte("bad \xff text"))
	rc.CloseFrame(t)
	l.WaitPrefix(t, "1 Error "+strconv.Itoa(id)+":")
}

func TestPing_EventForPingsAndPongs(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnPing = func(e *PingEvent) {
			ev.Add("Ping %d %q response=%v", e.ConnectionID, e.Payload(), e.Response)
		}
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	// A ping from the client: the event with Response false, and the
	// automatic pong with the same payload.
	rc.Write(t, true, opPing, []byte("are you there"))
	ev.WaitFor(t, fmt.Sprintf("Ping %d %q response=false", id, "are you there"))
	if f := rc.Frame(t); f.Op != opPong || string(f.Payload) != "are you there" {
		t.Fatalf("got frame op %d %q, want the pong", f.Op, f.Payload)
	}
	// An unsolicited pong: Response true.
	rc.Write(t, true, opPong, []byte("heartbeat"))
	ev.WaitFor(t, fmt.Sprintf("Ping %d %q response=true", id, "heartbeat"))
	// An empty ping.
	rc.Write(t, true, opPing, nil)
	ev.WaitFor(t, fmt.Sprintf("Ping %d %q response=false", id, ""))
}

func TestReadyToSend_FiresRightAfterConnect(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnConnected = func(e *ConnectedEvent) { ev.Add("Connected %d", e.ConnectionID) }
		s.Events.OnReadyToSend = func(e *ReadyToSendEvent) { ev.Add("ReadyToSend %d", e.ConnectionID) }
		s.Events.OnDataIn = func(e *DataInEvent) { ev.Add("DataIn %d", e.ConnectionID) }
	})
	// The client sends a message with its handshake: still, ReadyToSend
	// comes right after Connected, before any DataIn.
	rc, id := h.rawOpen(t, wiretest.Options{Extra: wiretest.Client(true, opText, []byte("early")).Bytes()})
	_ = rc
	got := ev.WaitFor(t, fmt.Sprintf("DataIn %d", id))
	want := []string{fmt.Sprintf("Connected %d", id), fmt.Sprintf("ReadyToSend %d", id), fmt.Sprintf("DataIn %d", id)}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestWebSocketOpenRequest_Parameters(t *testing.T) {
	got := make(chan WebSocketOpenRequestEvent, 1)
	h := newHarness(t, func(s *Server) {
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) { got <- *e }
	})
	_, id := h.rawOpen(t, wiretest.Options{
		Path: "/socket?token=abc",
		Host: "ws.example.test",
		Headers: []string{
			"Origin: https://ws.example.test",
			"Sec-WebSocket-Protocol: v2.chat, v1.chat",
			"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
			"X-Request-Id: 77",
		},
	})
	e := wiretest.Receive(t, got, "WebSocketOpenRequest")
	if e.ConnectionID != id {
		t.Errorf("ConnectionId %d, then Connected for %d", e.ConnectionID, id)
	}
	if e.RequestURI != "/socket?token=abc" {
		t.Errorf("RequestURI %q", e.RequestURI)
	}
	if e.HostHeader != "ws.example.test" {
		t.Errorf("HostHeader %q", e.HostHeader)
	}
	if e.OriginHeader != "https://ws.example.test" {
		t.Errorf("OriginHeader %q", e.OriginHeader)
	}
	if e.SubProtocols != "v2.chat, v1.chat" {
		t.Errorf("SubProtocols %q", e.SubProtocols)
	}
	if !strings.Contains(e.Extensions, "permessage-deflate") {
		t.Errorf("Extensions %q", e.Extensions)
	}
	for _, want := range []string{"X-Request-Id: 77", "Host: ws.example.test", "Origin: https://ws.example.test"} {
		if !strings.Contains(e.RequestHeaders, want) {
			t.Errorf("RequestHeaders lacks %q: %q", want, e.RequestHeaders)
		}
	}
	if e.StatusCode != 101 {
		t.Errorf("StatusCode starts at %d, want 101", e.StatusCode)
	}
}

func TestWebSocketOpenRequest_SubProtocolsSelection(t *testing.T) {
	ev := wiretest.NewRecorder()
	choice := make(chan func(*WebSocketOpenRequestEvent), 1)
	h := newHarness(t, func(s *Server) {
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) { (<-choice)(e) }
		s.Events.OnError = func(e *ErrorEvent) { ev.Add("Error %d", e.ErrorCode) }
	})
	for _, tc := range []struct {
		name    string
		offered []string
		set     func(*WebSocketOpenRequestEvent)
		want    string
	}{
		{"select the second", []string{"chat", "superchat"}, func(e *WebSocketOpenRequestEvent) { e.SubProtocols = "superchat" }, "superchat"},
		{"select the first", []string{"chat", "superchat"}, func(e *WebSocketOpenRequestEvent) { e.SubProtocols = "chat" }, "chat"},
		{"select none", []string{"chat", "superchat"}, func(e *WebSocketOpenRequestEvent) { e.SubProtocols = "" }, ""},
		{"unchanged list of two", []string{"chat", "superchat"}, func(*WebSocketOpenRequestEvent) {}, ""},
		{"unchanged single", []string{"chat"}, func(*WebSocketOpenRequestEvent) {}, "chat"},
		{"not offered", []string{"chat"}, func(e *WebSocketOpenRequestEvent) { e.SubProtocols = "other" }, ""},
	} {
		choice <- tc.set
		d := websocket.Dialer{HandshakeTimeout: waitLimit, Subprotocols: tc.offered}
		conn, resp, err := d.Dial(h.url, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		id := h.nextID(t)
		if got := conn.Subprotocol(); got != tc.want {
			t.Errorf("%s: client sees subprotocol %q, want %q", tc.name, got, tc.want)
		}
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != tc.want {
			t.Errorf("%s: Sec-WebSocket-Protocol %q, want %q", tc.name, got, tc.want)
		}
		c := h.conn(t, id)
		if got := c.SelectedSubProtocol(); got != tc.want {
			t.Errorf("%s: SelectedSubProtocol %q", tc.name, got)
		}
		if got := c.SubProtocols(); got != strings.Join(tc.offered, ", ") {
			t.Errorf("%s: WSConnection.SubProtocols %q, want the client's list", tc.name, got)
		}
		conn.Close()
	}
	// Choosing a subprotocol the client did not offer is reported.
	ev.WaitFor(t, "Error 301")
}

func TestWebSocketOpenRequest_StatusCode401WithResponseHeaders(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) {
			if !strings.Contains(e.RequestHeaders, "Authorization: Basic") {
				e.StatusCode = 401
				e.ResponseHeaders = `WWW-Authenticate: Basic realm="Secure Realm"`
			}
		}
		s.Events.OnConnected = func(e *ConnectedEvent) { ev.Add("Connected") }
	})
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	conn, resp, err := d.Dial(h.url, nil)
	if err == nil {
		conn.Close()
		t.Fatal("the handshake succeeded; want 401")
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
		t.Fatalf("dial: %v", err)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="Secure Realm"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	if got := ev.Snapshot(); len(got) != 0 {
		t.Fatalf("events after a 401: %q", got)
	}
	// With credentials the same handler accepts.
	hdr := http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}
	h.dial(t, "/", hdr)
}

func TestWebSocketOpenRequest_ResponseHeadersOnAccept(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) {
			e.ResponseHeaders = "X-Server: wsserver\r\nSet-Cookie: session=1"
		}
	})
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	conn, resp, err := d.Dial(h.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h.nextID(t)
	if resp.Header.Get("X-Server") != "wsserver" || resp.Header.Get("Set-Cookie") != "session=1" {
		t.Fatalf("response headers %v", resp.Header)
	}
}
