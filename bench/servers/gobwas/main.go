// Command gobwas is the benchmark server on github.com/gobwas/ws.
//
// It upgrades raw TCP connections with the zero-copy ws.Upgrader (no
// net/http) and reads through a wsutil.Reader over a bufio.Reader, so that
// several small frames that arrive together cost one read syscall. Echo reads
// the whole message into a reused per-connection buffer and writes header and
// payload with one writev. With -deflate it negotiates wsflate without context
// takeover and compresses replies with compress/flate at BestSpeed.
// Broadcast: the frame is built once and written to every connection.
package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
	"github.com/wsserver/wsserver/bench/internal/srv"
)

type conn struct {
	net.Conn
	mu sync.Mutex // serialises writes (broadcaster vs control replies)
}

func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *conn) writev(b net.Buffers) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := b.WriteTo(c.Conn)
	return err
}

var reg srv.Registry[*conn]

func main() {
	srv.Init()
	ln := srv.Listen()
	for {
		nc, err := ln.Accept()
		if err != nil {
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		go serve(&conn{Conn: nc})
	}
}

func serve(c *conn) {
	defer c.Close()
	var ext wsflate.Extension
	u := ws.Upgrader{}
	if *srv.Deflate {
		ext.Parameters = wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
		u.Negotiate = ext.Negotiate
	}
	if _, err := u.Upgrade(c.Conn); err != nil {
		return
	}
	_, compress := ext.Accepted()
	if srv.Broadcast() {
		reg.Add(c)
		defer reg.Remove(c)
	}

	control := wsutil.ControlFrameHandler(c, ws.StateServerSide)
	var ms wsflate.MessageState
	rd := &wsutil.Reader{
		Source:         bufio.NewReaderSize(c.Conn, 4096),
		State:          ws.StateServerSide,
		OnIntermediate: control,
	}
	var (
		inflate *wsflate.Reader
		deflate *wsflate.Writer
		zbuf    bytes.Buffer
	)
	if compress {
		rd.State |= ws.StateExtended // RSV1 is in use
		rd.Extensions = []wsutil.RecvExtension{&ms}
		inflate = wsflate.NewReader(nil, func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) })
		deflate = wsflate.NewWriter(nil, func(w io.Writer) wsflate.Compressor {
			fw, _ := flate.NewWriter(w, flate.BestSpeed)
			return fw
		})
	}
	var (
		buf     []byte
		hdrBuf  bytes.Buffer
		scratch [ws.MaxHeaderSize]byte
	)
	for {
		h, err := rd.NextFrame()
		if err != nil {
			return
		}
		if h.OpCode.IsControl() {
			if control(h, rd) != nil {
				return
			}
			continue
		}
		var src io.Reader = rd
		if ms.IsCompressed() {
			inflate.Reset(rd)
			src = inflate
		}
		if buf, err = srv.ReadAll(src, buf); err != nil {
			return
		}
		out := ws.Header{Fin: true, OpCode: h.OpCode, Length: int64(len(buf))}
		payload := buf
		if compress && !srv.Broadcast() {
			zbuf.Reset()
			deflate.Reset(&zbuf)
			deflate.Write(buf)
			if deflate.Flush() != nil {
				return
			}
			payload = zbuf.Bytes()
			out.Length = int64(len(payload))
			out.Rsv = ws.Rsv(true, false, false)
		}
		hdrBuf.Reset()
		ws.WriteHeaderBuffer(&hdrBuf, out, scratch[:])
		if !srv.Broadcast() {
			if c.writev(net.Buffers{hdrBuf.Bytes(), payload}) != nil {
				return
			}
			continue
		}
		frame := append(hdrBuf.Bytes(), payload...)
		reg.Each(func(d *conn) { d.Write(frame) })
	}
}
