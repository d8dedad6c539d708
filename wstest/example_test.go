package wstest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/wsserver/wsserver"
	"github.com/wsserver/wsserver/wstest"
)

// ExampleDialHandler unit-tests a handler without a socket: the Server runs
// on an in-memory connection, the client sends and reads whole messages,
// and the close codes of both sides are checked.
func ExampleDialHandler() {
	s := wsserver.New()
	s.Events.OnMessage = func(e *wsserver.MessageEvent) {
		if e.Text() == "quit" {
			s.DisconnectWithCode(e.ConnectionID, 4000, "asked to quit")
			return
		}
		s.SendText(e.ConnectionID, "echo: "+e.Text())
	}
	defer s.Shutdown()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wstest.DialHandler(ctx, s, "/", nil)
	if err != nil {
		log.Fatal(err)
	}
	c.WriteText("ping?")
	m, _ := c.ReadMessage(ctx)
	fmt.Println(m.Type == wstest.Text, m.Text())

	c.WriteText("quit")
	_, err = c.ReadMessage(ctx)
	var ce *wstest.CloseError
	if errors.As(err, &ce) {
		fmt.Println("closed:", ce.Code, ce.Reason)
	}
	c.Abort()
	// Output:
	// true echo: ping?
	// closed: 4000 asked to quit
}
