package cluster

import (
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver"
)

// TestDeliver_NoAllocations checks issue 13's "the cluster layer adds no
// allocations per message on the receiving node beyond the broker
// client's": decoding a topic message, counting its sequence and queueing
// it for a subscriber allocate nothing in steady state.
func TestDeliver_NoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; scripts/test.sh runs this package without it too")
	}
	s := wsserver.New()
	s.SetLocalHost("127.0.0.1")
	if err := s.StartListening(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	n, err := Join(s, nil, Config{NodeID: "recv", HeartbeatInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(s.LocalPort())+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	done := make(chan int, 1)
	go func() { // the client reads everything
		count := 0
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				done <- count
				return
			}
			count++
		}
	}()
	var id int
	for deadline := time.Now().Add(10 * time.Second); id == 0; time.Sleep(5 * time.Millisecond) {
		if cs := s.Connections(); len(cs) == 1 {
			id = cs[0].ID()
		} else if time.Now().After(deadline) {
			t.Fatal("no connection")
		}
	}
	if err := n.Subscribe(id, "room"); err != nil {
		t.Fatal(err)
	}
	channel := n.topicChannel("room")
	payload := make([]byte, 128)
	seq := uint64(0)
	msg := func() []byte {
		seq++
		return appendEnvelope(nil, kindTopic, byte(wsserver.FormatBinary), "sender", 7, seq, nil, payload)
	}
	msgs := make([][]byte, 2000)
	for i := range msgs {
		msgs[i] = msg()
	}
	i := 0
	for ; i < 100; i++ { // warm up: buffers, the sender's sequence entry
		n.deliver(channel, msgs[i])
	}
	allocs := testing.AllocsPerRun(1000, func() {
		n.deliver(channel, msgs[i])
		i++
	})
	if allocs != 0 {
		t.Fatalf("deliver allocates %.2f times per message, want 0", allocs)
	}
	if st := n.Stats(); st.Lost != 0 || st.Received == 0 {
		t.Fatalf("stats %+v", st)
	}
	ws.Close()
	<-done
}
