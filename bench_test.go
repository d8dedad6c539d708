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

	"github.com/wsserver/wsserver/internal/protocol"
)

// rawDial opens a WebSocket to a test server by hand, for benchmarks that
// must not measure a client library.
func rawDial(tb testing.TB, url string, extensions string) (net.Conn, *bufio.Reader) {
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
// loopback, client and server in one process.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{16, 1024, 64 << 10} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			s := New()
			s.Config("BufferMessage=true")
			s.Config("TcpNoDelay=true")
			s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
			url := startServer(b, s)
			nc, br := rawDial(b, url, "")
			defer nc.Close()
			frame := maskedFrame(protocol.OpBinary, make([]byte, size))
			want := size + protocol.HeaderSize(size)
			buf := make([]byte, want)
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
		})
	}
}
