package wsserver

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Issue 12: Metrics counts what went through the server without any event
// handler of the user's: connections accepted and open, messages and
// payload bytes each way, broadcasts, pong round trips, closes by code and
// failed handshakes by status, on both transports.
func TestMetricsCountTraffic(t *testing.T) {
	for _, loop := range []bool{false, true} {
		t.Run(fmt.Sprintf("EventLoop=%v", loop), func(t *testing.T) {
			h := newHarness(t, func(s *Server) {
				s.Config("BufferMessage=true")
				s.Config("EventLoop=" + strconv.FormatBool(loop))
				s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
			})
			s := h.s
			a, idA := h.dial(t, "/", nil)
			b, _ := h.dial(t, "/", nil)
			for range 3 {
				a.WriteMessage(websocket.TextMessage, []byte("hello"))
				readMessage(t, a)
			}
			a.WriteMessage(websocket.BinaryMessage, make([]byte, 10))
			readMessage(t, a)
			if err := s.Ping(idA); err != nil {
				t.Fatal(err)
			}
			if n, err := s.Broadcast(FormatText, []byte("all")); n != 2 || err != nil {
				t.Fatalf("Broadcast: %d, %v", n, err)
			}
			readMessage(t, a) // gorilla answers the ping as it reads
			readMessage(t, b)
			wiretest.WaitUntil(t, "the pong is measured", func() bool { return s.Metrics().Pongs == 1 })

			m := s.Metrics()
			if m.Connections != 2 || m.Accepted != 2 {
				t.Errorf("Connections %d, Accepted %d; want 2, 2", m.Connections, m.Accepted)
			}
			if m.MessagesIn != 4 || m.BytesIn != 3*5+10 {
				t.Errorf("in: %d messages, %d bytes; want 4, 25", m.MessagesIn, m.BytesIn)
			}
			if m.MessagesOut != 4+2 || m.BytesOut != 25+2*3 {
				t.Errorf("out: %d messages, %d bytes; want 6, 31", m.MessagesOut, m.BytesOut)
			}
			if m.Broadcasts != 1 || m.BroadcastRecipients != 2 || m.BroadcastTime <= 0 {
				t.Errorf("broadcasts %d to %d in %v", m.Broadcasts, m.BroadcastRecipients, m.BroadcastTime)
			}
			if m.PingRTT <= 0 || m.LastPingRTT != m.PingRTT || h.conn(t, idA).PingRTT() != m.LastPingRTT {
				t.Errorf("ping RTT %v, last %v", m.PingRTT, m.LastPingRTT)
			}

			a.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, ""), time.Now().Add(time.Second))
			readClose(t, a)
			wiretest.WaitUntil(t, "the closed connection is counted", func() bool { return s.Metrics().Closes[4001] == 1 })
			// A closed connection's traffic stays counted.
			if m2 := s.Metrics(); m2.Connections != 1 || m2.MessagesIn != m.MessagesIn || m2.BytesOut != m.BytesOut {
				t.Errorf("after a close: %+v", m2)
			}

			// A request that is no upgrade is answered with an HTTP error,
			// counted by its status.
			nc, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			nc.SetReadDeadline(time.Now().Add(waitLimit))
			line, err := bufio.NewReader(nc).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			status, _ := strconv.Atoi(strings.Fields(line)[1])
			wiretest.WaitUntil(t, "the failed handshake is counted", func() bool { return s.Metrics().HandshakeFailures[status] == 1 })
		})
	}
}

// Issue 12: connections refused at MaxConnections and sends refused with
// ErrWouldBlock are counted, and QueuedBytes shows what waits.
func TestMetricsRefusals(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.Config("MaxConnections=1") })
	s := h.s
	_, id := h.dialSmall(t)
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	if _, resp, err := d.Dial(h.url, nil); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("second connection past MaxConnections=1: %v", err)
	}
	wiretest.WaitUntil(t, "the refusal is counted", func() bool { return s.Metrics().Refused["max_connections"] == 1 })

	// The client does not read: its queue fills.
	msg := make([]byte, 64<<10)
	refused := uint64(0)
	for i := 0; i < 10000 && refused < 3; i++ {
		err := s.SendMessage(id, FormatBinary, msg)
		if errors.Is(err, ErrWouldBlock) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if refused != 3 {
		t.Fatalf("the queue never filled")
	}
	m := s.Metrics()
	if m.SendsRefused != refused {
		t.Errorf("SendsRefused %d, want %d", m.SendsRefused, refused)
	}
	if m.QueuedBytes <= 0 {
		t.Errorf("QueuedBytes %d with a full queue", m.QueuedBytes)
	}
}
