package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Issue 12: broadcast sends to the receivers with nothing waiting in one
// framed-once BroadcastToFunc call, and keeps a message in the outbox only
// for a receiver that is behind. With readers that keep up, one with the
// wsserver.sender subprotocol, and one that reads nothing until the end,
// every receiver gets every message once, in order (the envelope saying
// who sent it for the sender-protocol one), and each receiver's count of
// messages sent is exact.
func TestBroadcastFramedOnceOutboxOnlyForTheSlow(t *testing.T) {
	for _, loop := range []string{"True", "False"} {
		t.Run("EventLoop="+loop, func(t *testing.T) {
			ta := startApp(t, "--config", "EventLoop="+loop, "--config", "SendQueueSize=65536",
				"--config", "EnablePermessageDeflate=false", "broadcast")
			sender := dial(t, ta.ws)
			var fast []*websocket.Conn
			for range 3 {
				fast = append(fast, dial(t, ta.ws))
			}
			d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{senderProtocol}}
			watcher, resp, err := d.Dial(ta.ws, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			t.Cleanup(func() { watcher.Close() })
			slow := dial(t, ta.ws)
			eventually(t, "six connections are registered", func() bool { return ta.registered() == 6 })
			senderID := ta.srv.Connections()[0].ID()

			const n = 100
			msg := func(i int) string { return fmt.Sprintf("%d:%s", i, strings.Repeat("x", 64<<10)) }
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			reader := func(c *websocket.Conn, check func(i int, typ int, got []byte) error) {
				defer wg.Done()
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				for i := range n {
					typ, got, err := c.ReadMessage()
					if err == nil {
						err = check(i, typ, got)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
			for _, c := range fast {
				wg.Add(1)
				go reader(c, func(i, typ int, got []byte) error {
					if typ != websocket.TextMessage || string(got) != msg(i) {
						return fmt.Errorf("a reader's message %d: type %d, starts %.10q", i, typ, got)
					}
					return nil
				})
			}
			wg.Add(1)
			go reader(watcher, func(i, typ int, got []byte) error {
				var env struct {
					From int
					Type string
					Data string
				}
				if err := json.Unmarshal(got, &env); err != nil || env.From != senderID || env.Type != "text" || env.Data != msg(i) {
					return fmt.Errorf("envelope %d: from %d, type %q, %v", i, env.From, env.Type, err)
				}
				return nil
			})
			for i := range n {
				if err := sender.WriteMessage(websocket.TextMessage, []byte(msg(i))); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			eventually(t, "a message waits in the slow receiver's outbox", func() bool { return ta.deferred.Load() > 0 })
			for i := range n {
				if _, got := read(t, slow); string(got) != msg(i) {
					t.Fatalf("the slow receiver's message %d starts %.10q", i, got)
				}
			}
			for _, c := range ta.srv.Connections() {
				want := uint64(n)
				if c.ID() == senderID {
					want = 0
				}
				if got := c.Metrics().MessagesOut; got != want {
					t.Errorf("connection %d: %d messages sent, want %d", c.ID(), got, want)
				}
			}
		})
	}
}
