// Command gws is the benchmark server on github.com/lxzan/gws.
//
// It runs gws's own server (its accept loop and handshake, no net/http).
// gws hands OnMessage the whole message in a pooled buffer; echo writes it
// back with one WriteMessage. Broadcast uses gws.Broadcaster, which encodes
// the frame once for all connections.
package main

import (
	"log"

	"github.com/lxzan/gws"
	"github.com/wsserver/wsserver/bench/internal/srv"
)

type handler struct {
	gws.BuiltinEventHandler
	reg srv.Registry[*gws.Conn]
}

func (h *handler) OnOpen(c *gws.Conn) {
	if srv.Broadcast() {
		h.reg.Add(c)
	}
}

func (h *handler) OnClose(c *gws.Conn, err error) {
	if srv.Broadcast() {
		h.reg.Remove(c)
	}
}

func (h *handler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if !srv.Broadcast() {
		c.WriteMessage(m.Opcode, m.Bytes())
		return
	}
	b := gws.NewBroadcaster(m.Opcode, append([]byte(nil), m.Bytes()...))
	h.reg.Each(func(d *gws.Conn) { b.Broadcast(d) })
	b.Close()
}

func main() {
	srv.Init()
	opt := &gws.ServerOption{
		PermessageDeflate: gws.PermessageDeflate{
			Enabled:               *srv.Deflate,
			ServerContextTakeover: false,
			ClientContextTakeover: false,
		},
	}
	s := gws.NewServer(&handler{}, opt)
	log.Fatal(s.RunListener(srv.Listen()))
}
