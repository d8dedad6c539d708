// Command coder is the benchmark server on github.com/coder/websocket.
//
// Echo: Reader, read the whole message into a per-connection buffer that is
// reused, one Write. The 32 KiB default read limit is lifted.
// Broadcast: Write to every connection in turn.
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/coder/websocket"
	"github.com/wsserver/wsserver/bench/internal/srv"
)

func main() {
	srv.Init()
	opts := &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	}
	if *srv.Deflate {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	var reg srv.Registry[*websocket.Conn]
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		if srv.Broadcast() {
			reg.Add(c)
			defer reg.Remove(c)
		}
		ctx := context.Background()
		var buf []byte
		for {
			mt, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			if buf, err = srv.ReadAll(rd, buf); err != nil {
				return
			}
			if !srv.Broadcast() {
				if c.Write(ctx, mt, buf) != nil {
					return
				}
				continue
			}
			reg.Each(func(d *websocket.Conn) { d.Write(ctx, mt, buf) })
		}
	})
	log.Fatal(http.Serve(srv.Listen(), h))
}
