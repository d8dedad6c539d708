package wsserver

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

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
