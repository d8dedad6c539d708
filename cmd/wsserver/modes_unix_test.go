//go:build unix

package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestBroadcastNonReaders_Issue11 plays the row "20 broadcast readers + 100
// clients that never read": a client that reads nothing is cut off once
// more than --max-backlog waits for it (1008), or once its waiting messages
// no longer fit the memory budget (1013), while a reader gets every message
// in order; what waited is given back to the budget.
func TestBroadcastNonReaders_Issue11(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"max-backlog", []string{"--max-backlog", "262144"}, 1008},
		{"MemoryBudget", []string{"--max-connections", "4", "--config", "MemoryBudget=1048576"}, 1013},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--config", "OutBufferSize=65536", "--config", "EnablePermessageDeflate=false"}, tt.args...)
			ta := startApp(t, append(args, "broadcast")...)
			sender, reader := dial(t, ta.ws), dial(t, ta.ws)
			d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDial: func(network, addr string) (net.Conn, error) {
				nd := net.Dialer{Control: func(network, address string, rc syscall.RawConn) error {
					rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
					return nil
				}}
				return nd.Dial(network, addr)
			}}
			silent, _, err := d.Dial(ta.ws, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer silent.Close()
			eventually(t, "three connections are registered", func() bool { return ta.registered() == 3 })
			// The sender waits for the reader's copy of each message, so
			// that only the client that reads nothing falls behind.
			const n = 300
			for i := range n {
				msg := fmt.Sprintf("%d:%s", i, strings.Repeat("x", 16<<10))
				if err := sender.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				if _, got := read(t, reader); string(got) != msg {
					t.Fatalf("the reader's message %d starts %q", i, got[:min(10, len(got))])
				}
			}
			silent.SetReadDeadline(time.Now().Add(20 * time.Second))
			var code int
			for range 10000 {
				if _, _, err := silent.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						code = ce.Code
					}
					break
				}
			}
			if code != tt.code {
				t.Errorf("the client that did not read was closed with %d, want %d", code, tt.code)
			}
			eventually(t, "the waiting messages to leave the budget", func() bool { return ta.srv.MemoryInUse() < 1<<20 })
		})
	}
}
