package wsserver

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Issue 12: Connection.Metrics gives one connection's share of what
// Server.Metrics sums (messages and payload bytes each way), and keeps the
// final counts after the connection ended; ConnectedAt says when it opened.
// A monitor reads them without counting in its own handlers.
func TestConnectionMetrics(t *testing.T) {
	for _, loop := range []bool{false, true} {
		t.Run(fmt.Sprintf("EventLoop=%v", loop), func(t *testing.T) {
			ended := make(chan ConnectionMetrics, 2)
			h := newHarness(t, func(s *Server) {
				s.Config("BufferMessage=true")
				s.Config("EventLoop=" + strconv.FormatBool(loop))
				s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
				s.Events.OnDisconnected = func(e *DisconnectedEvent) { ended <- e.Connection.Metrics() }
			})
			before := time.Now()
			a, idA := h.dial(t, "/", nil)
			b, idB := h.dial(t, "/", nil)
			after := time.Now()
			for range 3 {
				a.WriteMessage(websocket.TextMessage, []byte("hello"))
				readMessage(t, a)
			}
			b.WriteMessage(websocket.BinaryMessage, make([]byte, 10))
			readMessage(t, b)

			ca, cb := h.conn(t, idA), h.conn(t, idB)
			// The client may read an echo's last byte before the server's
			// writer has counted it off the queue: wait for both queues to
			// drain (they must) before the counts are compared.
			wiretest.WaitUntil(t, "the queues to drain", func() bool {
				return ca.Metrics().QueuedBytes == 0 && cb.Metrics().QueuedBytes == 0
			})
			want := ConnectionMetrics{MessagesIn: 3, MessagesOut: 3, BytesIn: 15, BytesOut: 15}
			if m := ca.Metrics(); m != want {
				t.Errorf("connection A: %+v, want %+v", m, want)
			}
			want = ConnectionMetrics{MessagesIn: 1, MessagesOut: 1, BytesIn: 10, BytesOut: 10}
			if m := cb.Metrics(); m != want {
				t.Errorf("connection B: %+v, want %+v", m, want)
			}
			for _, c := range []*Connection{ca, cb} {
				if at := c.ConnectedAt(); at.Before(before) || at.After(after) {
					t.Errorf("connection %d: ConnectedAt %v, not between %v and %v", c.ID(), at, before, after)
				}
			}

			a.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(waitLimit))
			readClose(t, a)
			select {
			case m := <-ended:
				if m.MessagesIn != 3 || m.BytesOut != 15 {
					t.Errorf("in Disconnected: %+v", m)
				}
			case <-time.After(waitLimit):
				t.Fatal("no Disconnected")
			}
			wiretest.WaitUntil(t, "A has left Connections", func() bool { return h.s.ConnectionCount() == 1 })
			if m := ca.Metrics(); m.MessagesIn != 3 || m.MessagesOut != 3 {
				t.Errorf("after the close: %+v", m)
			}
		})
	}
}

// Issue 12: AppendConnections lists every open connection, in any order,
// and allocates nothing when the slice has room.
func TestAppendConnections(t *testing.T) {
	h := newHarness(t, nil)
	var ids []int
	for range 3 {
		_, id := h.dial(t, "/", nil)
		ids = append(ids, id)
	}
	list := h.s.AppendConnections(make([]*Connection, 1, 8))
	if list[0] != nil || len(list) != 4 {
		t.Fatalf("AppendConnections kept %v and appended %d; want the nil kept and 3", list[0], len(list)-1)
	}
	var got []int
	for _, c := range list[1:] {
		got = append(got, c.ID())
	}
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Errorf("listed %v, want %v", got, ids)
	}
	buf := make([]*Connection, 0, 8)
	if n := testing.AllocsPerRun(10, func() { buf = h.s.AppendConnections(buf[:0]) }); n != 0 {
		t.Errorf("%v allocations per call with room, want 0", n)
	}
}

// Issue 12: a heartbeat's wheel entry, which every connection of a server
// with PingInterval carries, fits 64 bytes (it was 96).
func TestLiveStateSize(t *testing.T) {
	if n := unsafe.Sizeof(liveState{}); n > 64 {
		t.Errorf("liveState is %d bytes, want at most 64", n)
	}
}

// The wheel's entries keep ticks in 32 bits; the order of ticks and the
// ticks themselves survive the wrap-around.
func TestWheelStamps(t *testing.T) {
	for _, now := range []int64{0, 1000, 1<<32 - 5, 1 << 32, 1<<32 + 3, 5<<32 - 1} {
		for _, d := range []int64{-maxTicks, -300, -1, 0, 1, 300, maxTicks} {
			then := now + d
			if then < 0 {
				continue
			}
			if got := tickAt(now, stamp(then)); got != then {
				t.Errorf("now %d: tickAt(stamp(%d)) = %d", now, then, got)
			}
			if got, want := dueBy(stamp(then), now), d <= 0; got != want {
				t.Errorf("now %d: dueBy(stamp(%d)) = %v, want %v", now, then, got, want)
			}
		}
	}
	if got := ticks(100 * 365 * 24 * time.Hour); got != maxTicks {
		t.Errorf("ticks(100 years) = %d, want the cap %d", got, maxTicks)
	}
	if got := ticks(250 * time.Millisecond); got != 3 {
		t.Errorf("ticks(250ms) = %d, want 3", got)
	}
}
