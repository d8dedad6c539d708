package wsserver

import (
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/transport"
)

// BenchmarkIdleConnections reports the server's Go memory (heap and stacks)
// per idle plaintext connection after the handshake, as bytes/conn, with and
// without EventLoop. Client and server share the process, so the cost of a
// plain TCP connection pair (client socket and accepted socket) is measured
// the same way and subtracted. bench/ measures process RSS instead.
func BenchmarkIdleConnections(b *testing.B) {
	const n = 2000
	measure := func(dial func() net.Conn) float64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, 0, n)
		for i := 0; i < n; i++ {
			conns = append(conns, dial())
		}
		time.Sleep(200 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		for _, c := range conns {
			c.Close()
		}
		used := float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)
		return used / n
	}
	for _, loop := range []string{"False", "True"} {
		b.Run("EventLoop="+loop, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.ReportMetric(idleCost(b, n, loop, measure), "bytes/conn")
			}
		})
	}
}

// idleCost measures the memory of n idle connections to a server with the
// given EventLoop setting, less that of n plain TCP connections whose server
// side holds only the descriptor: the client side's cost cancels out, and
// what is left is the server's per connection.
func idleCost(b *testing.B, n int, loop string, measure func(func() net.Conn) float64) float64 {
	{
		s := New()
		s.Config("MaxConnections=10000")
		s.Config("EventLoop=" + loop)
		url := startServer(b, s)
		ws := measure(func() net.Conn { nc, _ := benchDial(b, url, ""); return nc })

		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ln := transport.RawAccept(tl)
		if !transport.CanAcceptRaw(ln) {
			b.Fatal("cannot accept raw sockets")
		}
		go func() {
			held := make([]int, 0, n)
			defer func() {
				for _, fd := range held {
					syscall.Close(fd)
				}
			}()
			for {
				fd, err := transport.AcceptFD(ln)
				if err != nil {
					return
				}
				held = append(held, fd)
			}
		}()
		tcp := measure(func() net.Conn {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			return c
		})
		ln.Close()
		return ws - tcp
	}
}
