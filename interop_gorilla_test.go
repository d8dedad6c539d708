package wsserver

import (
	"bytes"
	"testing"

	"github.com/gorilla/websocket"
)

func TestGorillaEcho(t *testing.T) {
	for _, loop := range []bool{false, true} {
		s := New()
		s.Config("BufferMessage=true")
		if loop {
			s.Config("EventLoop=true")
		}
		s.Events.OnDataIn = func(e *DataInEvent) {
			if err := s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB); err != nil {
				t.Errorf("echo: %v", err)
			}
		}
		gorillaEcho(t, startServer(t, s))
	}
}

func gorillaEcho(t *testing.T, url string) {
	for _, compress := range []bool{false, true} {
		d := websocket.Dialer{EnableCompression: compress}
		conn, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range [][]byte{[]byte("hello"), bytes.Repeat([]byte("abc"), 100000), {}} {
			if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				t.Fatal(err)
			}
			typ, got, err := conn.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if typ != websocket.TextMessage || !bytes.Equal(got, msg) {
				t.Fatalf("compress=%v: echo of %d bytes came back as type %d with %d bytes", compress, len(msg), typ, len(got))
			}
		}
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"))
		_, _, err = conn.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1000 {
			t.Fatalf("close: %v", err)
		}
		conn.Close()
	}
}
