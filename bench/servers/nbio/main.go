// Command nbio is the benchmark server on github.com/lesismal/nbio (nbhttp
// engine, non-blocking epoll mode).
//
// OnMessage gets the whole message; echo writes it back with one
// WriteMessage. The upgrader's idle deadline (KeepaliveTime) is off, the
// online limit is lifted for the idle and broadcast workloads, payload
// buffers go back to nbio's pool after each call, and messages go out as one
// frame (nbio splits at 32 KiB by default). By default handlers run inline
// on the poller goroutine, which is nbio's fastest setting for a handler that
// never blocks (-pool uses nbio's default goroutine pool instead).
// Broadcast: WriteMessage to every connection (nbio only queues the bytes).
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/wsserver/wsserver/bench/internal/srv"
)

var pool = flag.Bool("pool", false, "run handlers on nbio's goroutine pool instead of inline")

func main() {
	srv.Init()
	var reg srv.Registry[*websocket.Conn]
	up := websocket.NewUpgrader()
	up.KeepaliveTime = 0
	up.CheckOrigin = func(*http.Request) bool { return true }
	up.EnableCompression(*srv.Deflate)
	up.OnOpen(func(c *websocket.Conn) {
		if srv.Broadcast() {
			reg.Add(c)
		}
	})
	up.OnClose(func(c *websocket.Conn, err error) {
		if srv.Broadcast() {
			reg.Remove(c)
		}
	})
	up.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) {
		if !srv.Broadcast() {
			c.WriteMessage(mt, data)
			return
		}
		reg.Each(func(d *websocket.Conn) { d.WriteMessage(mt, data) })
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		up.Upgrade(w, r, nil)
	})
	var bound string
	conf := nbhttp.Config{
		Network:                      "tcp",
		Addrs:                        []string{*srv.Addr},
		MaxLoad:                      1 << 20,
		ReleaseWebsocketPayload:      true,
		MaxWebsocketFramePayloadSize: 64 << 20,
		Handler:                      mux,
		Listen: func(network, addr string) (net.Listener, error) {
			ln, err := net.Listen(network, addr)
			if err == nil {
				bound = ln.Addr().String()
			}
			return ln, err
		},
	}
	if !*pool {
		conf.ServerExecutor = func(f func()) { f() }
	}
	e := nbhttp.NewEngine(conf)
	if err := e.Start(); err != nil {
		log.Fatal(err)
	}
	srv.Ready(bound)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	e.Stop()
}
