// Command tcp is the raw TCP reference: it echoes bytes as they come (echo)
// or copies every chunk it reads to all connections (broadcast). No framing,
// so it bounds what any WebSocket server can do over this loopback.
//
// A connection holds a read buffer only while it has data to read, so its
// idle footprint is that of a goroutine and a socket.
package main

import (
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/wsserver/wsserver/bench/internal/srv"
)

var bufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

var reg srv.Registry[*net.TCPConn]

func main() {
	srv.Init()
	ln := srv.Listen()
	for {
		c, err := ln.Accept()
		if err != nil {
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		go serve(c.(*net.TCPConn))
	}
}

func serve(c *net.TCPConn) {
	defer c.Close()
	if srv.Broadcast() {
		reg.Add(c)
		defer reg.Remove(c)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	for {
		var (
			buf  *[]byte
			n    int
			rerr error
		)
		err := rc.Read(func(fd uintptr) bool {
			buf = bufs.Get().(*[]byte)
			n, rerr = syscall.Read(int(fd), *buf)
			if rerr == syscall.EAGAIN {
				bufs.Put(buf)
				buf = nil
				return false // wait until readable
			}
			return true
		})
		if err != nil || rerr != nil || n <= 0 {
			if buf != nil {
				bufs.Put(buf)
			}
			return
		}
		data := (*buf)[:n]
		if !srv.Broadcast() {
			_, err = c.Write(data)
		} else {
			reg.Each(func(d *net.TCPConn) { d.Write(data) })
		}
		bufs.Put(buf)
		if err != nil {
			return
		}
	}
}
