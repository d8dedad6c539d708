package wsserver

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/deflate"
	"github.com/wsserver/wsserver/internal/protocol"
)

// benchDial opens a WebSocket to a test server by hand, for benchmarks that
// must not measure a client library.
func benchDial(tb testing.TB, url string, extensions string) (net.Conn, *bufio.Reader) {
	tb.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		tb.Fatal(err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		tb.Fatalf("handshake: %v %v", resp, err)
	}
	return nc, br
}

// maskedFrame returns one masked client frame.
func maskedFrame(op protocol.Opcode, payload []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := protocol.AppendHeader(nil, true, op, false, len(payload))
	f[1] |= 0x80
	f = append(f, key[:]...)
	start := len(f)
	f = append(f, payload...)
	protocol.Mask(key, 0, f[start:])
	return f
}

// BenchmarkEcho measures the server's echo of one message at a time over
// loopback, client and server in one process, on both transports. Steady
// state allocates nothing per message (allocs/op 0) up to 64 KiB.
func BenchmarkEcho(b *testing.B) {
	for _, loop := range []string{"False", "True"} {
		for _, size := range []int{16, 1024, 4096, 64 << 10, 1 << 20} {
			b.Run("EventLoop="+loop+"/"+strconv.Itoa(size), func(b *testing.B) {
				s := New()
				s.Config("BufferMessage=true")
				s.Config("TcpNoDelay=true")
				s.Config("EventLoop=" + loop)
				s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
				url := startServer(b, s)
				nc, br := benchDial(b, url, "")
				defer nc.Close()
				frame := maskedFrame(protocol.OpBinary, make([]byte, size))
				buf := make([]byte, frameBytes(size, defaultMaxFrameSize))
				echoLoop(b, nc, br, frame, buf, size)
			})
		}
	}
}

// BenchmarkEchoDeflate measures the echo of a compressed 1 KiB text message
// (permessage-deflate, no context takeover): inflate, deliver, deflate, send.
func BenchmarkEchoDeflate(b *testing.B) {
	s := New()
	s.Config("BufferMessage=true")
	s.Config("TcpNoDelay=true")
	s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
	url := startServer(b, s)
	nc, br := benchDial(b, url, "permessage-deflate; client_no_context_takeover")
	defer nc.Close()
	text := []byte(strings.Repeat("{\"id\":42,\"name\":\"wsserver\",\"ok\":true} ", 24))[:1024]
	z := deflate.NewCompressor(deflate.Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, deflate.BestSpeed)
	payload := z.Compress(nil, text)
	z.Close()
	frame := maskedFrame(protocol.OpText, payload)
	frame[0] |= 0x40 // RSV1: compressed
	// The reply is compressed the same way by the server: read its header
	// once to learn its size.
	if _, err := nc.Write(frame); err != nil {
		b.Fatal(err)
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		b.Fatal(err)
	}
	n := int(hdr[1] & 0x7f)
	if n == 126 {
		ext := make([]byte, 2)
		io.ReadFull(br, ext)
		n = int(ext[0])<<8 | int(ext[1])
		hdr = append(hdr, ext...)
	}
	io.ReadFull(br, make([]byte, n))
	echoLoop(b, nc, br, frame, make([]byte, len(hdr)+n), len(text))
}

// echoLoop sends frame and reads len(buf) bytes of reply, b.N times.
func echoLoop(b *testing.B, nc net.Conn, br *bufio.Reader, frame, buf []byte, size int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := nc.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(br, buf); err != nil {
			b.Fatal(err)
		}
	}
}

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
		ln, ok := withRawAccept(tl).(*rawListener)
		if !ok {
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
				fd, _, err := acceptRaw(ln.rc)
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
