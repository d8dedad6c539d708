// Command gorilla is the benchmark server on github.com/gorilla/websocket.
//
// Echo: NextReader, read the whole message into a per-connection buffer that
// is reused, one WriteMessage (gorilla's allocation-free server fast path).
// Broadcast: one PreparedMessage written to every connection.
package main

import (
	"log"
	"net/http"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/bench/internal/srv"
)

func main() {
	srv.Init()
	up := websocket.Upgrader{
		CheckOrigin:       func(*http.Request) bool { return true },
		EnableCompression: *srv.Deflate,
	}
	var reg srv.Registry[*websocket.Conn]
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if srv.Broadcast() {
			reg.Add(c)
			defer reg.Remove(c)
		}
		var buf []byte
		for {
			mt, rd, err := c.NextReader()
			if err != nil {
				return
			}
			if buf, err = srv.ReadAll(rd, buf); err != nil {
				return
			}
			if !srv.Broadcast() {
				if c.WriteMessage(mt, buf) != nil {
					return
				}
				continue
			}
			pm, err := websocket.NewPreparedMessage(mt, buf)
			if err != nil {
				return
			}
			reg.Each(func(d *websocket.Conn) { d.WritePreparedMessage(pm) })
		}
	})
	log.Fatal(http.Serve(srv.Listen(), h))
}
