package wsserver_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wsserver/wsserver"
	"github.com/wsserver/wsserver/wstest"
)

// Example_echo is the smallest server: every message goes back whole to its
// sender, text as text and binary as binary. The test client talks to it in
// memory, with no socket.
func Example_echo() {
	s := wsserver.New()
	s.Events.OnMessage = func(e *wsserver.MessageEvent) {
		s.SendMessage(e.ConnectionID, e.DataFormat, e.Data)
	}
	defer s.Shutdown()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wstest.DialHandler(ctx, s, "/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	c.WriteText("hello")
	reply, _ := c.ReadText(ctx)
	fmt.Println(reply)
	c.Close(1000, "bye")
	// Output: hello
}

// Example_chatRooms is a chat with rooms: a client joins the room its path
// names (/room/go), the room is kept on its connection with SetValue, and
// each message is broadcast to the connections of the same room, framed
// once for all of them.
func Example_chatRooms() {
	s := wsserver.New()
	s.Events.OnWebSocketOpenRequest = func(e *wsserver.WebSocketOpenRequestEvent) {
		room, ok := strings.CutPrefix(e.RequestURI, "/room/")
		if !ok || room == "" {
			e.StatusCode = http.StatusNotFound
			return
		}
		e.Connection.SetValue(room)
	}
	s.Events.OnMessage = func(e *wsserver.MessageEvent) {
		room := e.Connection.Value().(string)
		var ids []int
		for _, c := range s.Connections() {
			if c.Value() == room {
				ids = append(ids, c.ID())
			}
		}
		s.Broadcast(wsserver.FormatText, []byte(room+"> "+e.Text()), ids...)
	}
	s.SetLocalHost("127.0.0.1")
	if err := s.StartListening(); err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown()
	url := fmt.Sprintf("ws://127.0.0.1:%d/room/", s.LocalPort())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ann, _ := wstest.Dial(ctx, url+"go", nil)
	bob, _ := wstest.Dial(ctx, url+"go", nil)
	eve, _ := wstest.Dial(ctx, url+"rust", nil)
	defer ann.Close(1000, "")
	defer bob.Close(1000, "")
	defer eve.Close(1000, "")
	// Connections lists a client once Connected has fired, just after the
	// handshake's answer: wait for all three.
	for i := 0; s.ConnectionCount() < 3 && i < 10000; i++ {
		time.Sleep(time.Millisecond)
	}

	ann.WriteText("hi gophers")
	got, _ := ann.ReadText(ctx)
	fmt.Println("ann got:", got)
	got, _ = bob.ReadText(ctx)
	fmt.Println("bob got:", got)
	eve.WriteText("hi crabs")
	got, _ = eve.ReadText(ctx)
	fmt.Println("eve got:", got) // and only eve: ann and bob are in another room
	// Output:
	// ann got: go> hi gophers
	// bob got: go> hi gophers
	// eve got: rust> hi crabs
}

type userKey struct{}

// Example_netHTTPCookieAuth mounts the server on a net/http mux behind
// authentication middleware that reads a session cookie: the middleware
// refuses unknown sessions with 401 and stores the user in the request's
// context, where WebSocketOpenRequest finds it through the connection's
// Request, and keeps it on the connection for later events.
func Example_netHTTPCookieAuth() {
	sessions := map[string]string{"s3cr3t": "alice"}
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ck, err := r.Cookie("session")
			if err != nil || sessions[ck.Value] == "" {
				http.Error(w, "log in first", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, sessions[ck.Value])))
		})
	}

	s := wsserver.New()
	s.Events.OnWebSocketOpenRequest = func(e *wsserver.WebSocketOpenRequestEvent) {
		user := e.Connection.Request().Context().Value(userKey{}).(string)
		e.Connection.SetValue(user)
	}
	s.Events.OnMessage = func(e *wsserver.MessageEvent) {
		s.SendText(e.ConnectionID, e.Connection.Value().(string)+" said "+e.Text())
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", auth(s))
	hs := httptest.NewServer(mux) // in a program: http.Serve(ln, mux) or http.ListenAndServe
	defer hs.Close()
	defer s.Shutdown()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := wstest.Dial(ctx, url, nil)
	var he *wstest.HandshakeError
	if errors.As(err, &he) {
		fmt.Println("without a cookie:", he.StatusCode)
	}
	c, err := wstest.Dial(ctx, url, &wstest.Options{Header: http.Header{"Cookie": {"session=s3cr3t"}}})
	if err != nil {
		log.Fatal(err)
	}
	c.WriteText("hello")
	got, _ := c.ReadText(ctx)
	fmt.Println(got)
	c.Close(1000, "")
	// Output:
	// without a cookie: 401
	// alice said hello
}

// ExampleServer_Configure sets settings in their typed form: the compiler
// checks names and types, durations are time.Durations, and Configure
// applies all or none with Config's checks and error codes.
func ExampleServer_Configure() {
	s := wsserver.New()
	err := s.Configure(
		wsserver.WithMaxMessageSize(1<<20),
		wsserver.WithHandshakeTimeout(10*time.Second),
		wsserver.WithKeepAliveTime(30*time.Second),
		wsserver.WithCompressionLevel(6),
	)
	fmt.Println(err)
	v, _ := s.Config("KeepAliveTime") // the same setting, as the reference reads it
	fmt.Println("KeepAliveTime =", v)

	err = s.Configure(wsserver.WithMaxMessageSize(5), wsserver.WithLogLevel(9))
	fmt.Println(errors.Is(err, wsserver.ErrInvalidValue))
	v, _ = s.Config("MaxMessageSize") // unchanged: nothing applied
	fmt.Println("MaxMessageSize =", v)
	// Output:
	// <nil>
	// KeepAliveTime = 30000
	// true
	// MaxMessageSize = 1048576
}

// ExampleConnection_SetValue keeps per-connection state on the connection
// itself: here a counter of the messages it sent, read and updated by
// OnMessage and reported when it disconnects.
func ExampleConnection_SetValue() {
	type stats struct{ messages int }
	s := wsserver.New()
	done := make(chan string, 1)
	s.Events.OnConnected = func(e *wsserver.ConnectedEvent) {
		e.Connection.SetValue(&stats{})
	}
	s.Events.OnMessage = func(e *wsserver.MessageEvent) {
		// A connection's events run one at a time: no lock is needed for
		// state only its own events touch.
		e.Connection.Value().(*stats).messages++
	}
	s.Events.OnDisconnected = func(e *wsserver.DisconnectedEvent) {
		done <- fmt.Sprintf("connection sent %d messages", e.Connection.Value().(*stats).messages)
	}
	defer s.Shutdown()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _ := wstest.DialHandler(ctx, s, "/", nil)
	c.WriteText("one")
	c.WriteText("two")
	c.WriteBinary([]byte{3})
	c.Close(1000, "")
	fmt.Println(<-done)
	// Output: connection sent 3 messages
}
