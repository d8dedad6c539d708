package wsserver_test

import (
	"fmt"
	"log"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver"
)

// Example follows the reference's "To start…" paragraph: set LocalPort, call
// StartListening, accept connections in WebSocketOpenRequest, read in DataIn
// and answer with SendText.
func Example() {
	s := wsserver.New()
	s.Events.OnWebSocketOpenRequest = func(e *wsserver.WebSocketOpenRequestEvent) {
		if e.RequestURI != "/chat" {
			e.StatusCode = 404 // refuse; 101 (the default) accepts
		}
	}
	s.Events.OnDataIn = func(e *wsserver.DataInEvent) {
		s.SendText(e.ConnectionID, "you said: "+e.Text())
	}
	s.SetLocalHost("127.0.0.1")
	s.SetLocalPort(0) // 0: any free port; LocalPort reads the real one back
	if err := s.StartListening(); err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown()

	// A client, to show the round trip.
	url := fmt.Sprintf("ws://127.0.0.1:%d/chat", s.LocalPort())
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	conn.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, reply, _ := conn.ReadMessage()
	fmt.Println(string(reply))
	// Output: you said: hello
}
