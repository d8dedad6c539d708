package wsserver_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/wsserver/wsserver"
	"github.com/wsserver/wsserver/wstest"
)

// ExampleServer_HTTPListener serves a page and a WebSocket on one port: the
// server's own listener upgrades the WebSocket requests and hands the others
// to an http.Server.
func ExampleServer_HTTPListener() {
	s := wsserver.New()
	s.Events.OnMessage = func(e *wsserver.MessageEvent) {
		s.SendMessage(e.ConnectionID, e.DataFormat, e.Data)
	}
	s.SetLocalHost("127.0.0.1")
	s.SetLocalPort(0)

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "a page")
	})
	hs := &http.Server{Handler: mux}
	s.ConfigureHTTPServer(hs)
	go hs.Serve(s.HTTPListener(nil))
	if err := s.StartListening(); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer s.ShutdownContext(ctx)
	defer hs.Shutdown(ctx)
	base := "127.0.0.1:" + strconv.Itoa(s.LocalPort())

	resp, err := http.Get("http://" + base + "/")
	if err != nil {
		log.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	fmt.Print(string(page))

	c, err := wstest.Dial(ctx, "ws://"+base+"/ws", nil)
	if err != nil {
		log.Fatal(err)
	}
	c.WriteText("hello")
	reply, _ := c.ReadText(ctx)
	fmt.Println(reply)
	c.Close(1000, "bye")
	// Output:
	// a page
	// hello
}
