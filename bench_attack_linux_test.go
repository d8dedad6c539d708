package wsserver

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/wiretest"
)

// BenchmarkAttack plays the rows of issue 11's attack table against an
// in-process server (the attackers are raw sockets in the same process,
// which hold next to nothing in Go memory) and reports what each attack
// made the process hold, per attacker: the peak of RSS above where it was
// before the attack (rss-KiB/attacker), the peak of the Go heap in use
// above it (heap-KiB/attacker), and the peak of the server's accounted
// memory (accounted-MiB, MemoryBudget's view). RSS and heap are sampled
// every 10 ms while the attack runs. Memory figures go in this benchmark,
// not in a timed test; the attack tests assert the behaviour. Run with
//
//	go test -run '^$' -bench BenchmarkAttack -benchtime 1x .
//
// Settings: an echo server (BufferMessage) with MaxConnections 10000,
// MemoryBudget 64 MiB (a share of 6.7 KB per connection), SlowClientTimeout
// 1 s, OverBudgetTimeout 1 s; each attack runs until its attackers are cut
// off or refused, at most 10 s.
func BenchmarkAttack(b *testing.B) {
	const budget = 64 << 20
	rows := []struct {
		name      string
		loop      bool
		attackers int
		run       func(b *testing.B, s *Server, url string, n int)
	}{
		{"PongFlood/EventLoop", true, 20, attackPongFlood},
		{"PongFlood/goroutine", false, 20, attackPongFlood},
		{"DeflateBomb/EventLoop", true, 40, attackDeflateBomb},
		{"DeflateBomb/goroutine", false, 40, attackDeflateBomb},
		{"LargeHeads/EventLoop", true, 500, attackLargeHeads},
		{"NonReaders/EventLoop", true, 100, attackNonReaders},
		{"NonReaders/goroutine", false, 100, attackNonReaders},
		{"AnnouncedFrame/EventLoop", true, 2000, attackAnnouncedFrame},
		{"AnnouncedFrame/goroutine", false, 2000, attackAnnouncedFrame},
	}
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			for range b.N {
				s := New()
				setConfig(b, s, "MaxConnections=10000", "MemoryBudget="+strconv.Itoa(budget),
					"SlowClientTimeout=1", "OverBudgetTimeout=1", "CloseTimeout=1", "LogLevel=0", "BufferMessage=True",
					"EventLoop="+strconv.FormatBool(row.loop))
				s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
				url := startServer(b, s)
				debug.FreeOSMemory()
				rss0, heap0 := rssBytes(), heapInUse()
				stop := make(chan struct{})
				peaks := make(chan [2]int64, 1)
				go func() { // the sampler
					var rss, heap int64
					t := time.NewTicker(10 * time.Millisecond)
					defer t.Stop()
					for i := 0; i < 10_000; i++ {
						rss, heap = max(rss, rssBytes()), max(heap, heapInUse())
						select {
						case <-stop:
							peaks <- [2]int64{rss, heap}
							return
						case <-t.C:
						}
					}
					peaks <- [2]int64{rss, heap}
				}()
				row.run(b, s, url, row.attackers)
				close(stop)
				p := <-peaks
				n := float64(row.attackers)
				b.ReportMetric(float64(p[0]-rss0)/1024/n, "rss-KiB/attacker")
				b.ReportMetric(float64(p[1]-heap0)/1024/n, "heap-KiB/attacker")
				b.ReportMetric(float64(s.mem.peak.Load())/(1<<20), "accounted-MiB")
			}
		})
	}
}

// rssBytes returns the process's resident set size (VmRSS).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// heapInUse returns the Go heap in use.
func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// attackSocket connects to url with a small receive buffer (a client that
// does not read soon holds the server's writes back), sends the opening
// handshake with extra header lines, and returns the socket after a 101.
func attackSocket(b *testing.B, url string, extra ...string) net.Conn {
	b.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	d := net.Dialer{Timeout: waitLimit, Control: smallRcvBuf}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	var key [16]byte
	rand.Read(key[:])
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\nSec-WebSocket-Version: 13\r\n"
	for _, l := range extra {
		req += l + "\r\n"
	}
	nc.SetDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		b.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("handshake: %v %v", resp, err)
	}
	nc.SetDeadline(time.Time{})
	return nc
}

// floodAll has each socket write chunk over and over until the server cuts
// it (a write fails) or 10 s pass, and waits for all of them.
func floodAll(socks []net.Conn, chunk []byte) {
	end := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	for _, nc := range socks {
		wg.Go(func() {
			nc.SetWriteDeadline(end)
			for i := 0; i < 10_000_000; i++ {
				if _, err := nc.Write(chunk); err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
}

// attackPongFlood: n clients send 125-byte pings as fast as they can and
// never read.
func attackPongFlood(b *testing.B, s *Server, url string, n int) {
	var chunk []byte
	for range 64 {
		chunk = append(chunk, wiretest.Client(true, opPing, make([]byte, 125)).Bytes()...)
	}
	socks := make([]net.Conn, n)
	for i := range socks {
		socks[i] = attackSocket(b, url)
	}
	floodAll(socks, chunk)
}

// attackDeflateBomb: n clients each send a 64 KB permessage-deflate message
// that inflates to 63 MiB, and never read.
func attackDeflateBomb(b *testing.B, s *Server, url string, n int) {
	bomb := wiretest.Client(true, opBinary|0x40, deflateBomb(b, 63<<20)).Bytes()
	socks := make([]net.Conn, n)
	for i := range socks {
		socks[i] = attackSocket(b, url, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover")
	}
	// Each sends its bomb, then waits until the server closes the socket.
	var wg sync.WaitGroup
	for _, nc := range socks {
		wg.Go(func() {
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := nc.Write(bomb); err != nil {
				return
			}
			io.Copy(io.Discard, nc)
		})
	}
	wg.Wait()
}

// attackLargeHeads: n connections open with 15 KiB request heads (under the
// 16 KiB limit) and stay; then n requests with 1 MB heads are refused.
func attackLargeHeads(b *testing.B, s *Server, url string, n int) {
	fill := "X-Fill: " + strings.Repeat("h", 15<<10)
	for range n {
		attackSocket(b, url, fill)
	}
	big := "X-Big: " + strings.Repeat("h", 1<<20)
	addr := strings.TrimPrefix(url, "ws://")
	for range n {
		nc, err := net.DialTimeout("tcp", addr, waitLimit)
		if err != nil {
			b.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(waitLimit))
		io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n"+big+"\r\n\r\n") // refused before it ends
		io.Copy(io.Discard, nc)
		nc.Close()
	}
}

// attackNonReaders: n clients never read while the application sends each
// of them 16 KiB messages as fast as they are taken, until all are cut off
// or 10 s pass.
func attackNonReaders(b *testing.B, s *Server, url string, n int) {
	for range n {
		attackSocket(b, url)
	}
	msg := bytes.Repeat([]byte{'x'}, 16<<10)
	end := time.Now().Add(10 * time.Second)
	for i := 0; i < 1_000_000 && time.Now().Before(end); i++ {
		conns := s.Connections()
		if len(conns) == 0 {
			return
		}
		for _, c := range conns {
			s.SendMessage(c.ID(), FormatBinary, msg)
		}
		if i%16 == 15 {
			time.Sleep(time.Millisecond)
		}
	}
}

// attackAnnouncedFrame: n connections announce a 64 MiB frame and send 40
// KiB of it.
func attackAnnouncedFrame(b *testing.B, s *Server, url string, n int) {
	hdr := []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4}
	part := append(hdr, make([]byte, 40<<10)...)
	for range n {
		nc := attackSocket(b, url)
		nc.SetWriteDeadline(time.Now().Add(waitLimit))
		if _, err := nc.Write(part); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(n) * 40 << 10
	for i := 0; i < 1000 && s.MemoryInUse() < want; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}
