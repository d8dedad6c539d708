package wsserver

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

// BenchmarkIdleTLSConnections reports the server's Go memory (heap and
// stacks) per idle TLS connection. TLS connections keep a goroutine each
// (EventLoop serves plaintext ones only), so this is the figure for them.
// The clients run in a child process, so that only the server is measured.
func BenchmarkIdleTLSConnections(b *testing.B) {
	const n = 1000
	ca := certtest.NewCA(b, "Bench CA")
	leaf := certtest.NewLeaf(b, ca, "server.test", certtest.ECDSA)
	caFile := b.TempDir() + "/ca.pem"
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	s := New()
	mustOK(b, s.SetSSLCertStoreType(7))
	mustOK(b, s.SetSSLCertStoreB(append(leaf.CertPEM(), leaf.KeyPEM(b)...)))
	mustOK(b, s.SetSSLCertSubject("*"))
	mustOK(b, s.SetUseSSL(true))
	setConfig(b, s, "MaxConnections=10000", "EventLoop=true")
	url := startServer(b, s)
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleTLSClientsHelper$")
		cmd.Env = append(os.Environ(), "WSSERVER_IDLE_TLS="+strings.TrimPrefix(url, "ws://")+","+caFile+","+strconv.Itoa(n))
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != "ready\n" {
			stdin.Close()
			cmd.Wait()
			b.Fatalf("client process: %q, %v", line, err)
		}
		time.Sleep(200 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		stdin.Close()
		cmd.Wait()
		used := float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)
		b.ReportMetric(used/n, "bytes/conn")
	}
}

// TestIdleTLSClientsHelper is the client process of
// BenchmarkIdleTLSConnections; it does nothing in a normal test run.
func TestIdleTLSClientsHelper(t *testing.T) {
	spec := os.Getenv("WSSERVER_IDLE_TLS")
	if spec == "" {
		return
	}
	parts := strings.Split(spec, ",")
	addr, caFile := parts[0], parts[1]
	n, _ := strconv.Atoi(parts[2])
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conf := &tls.Config{RootCAs: pool, ServerName: "server.test"}
	conns := make([]*tls.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := tls.Dial("tcp", addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("handshake: %v, %v", resp, err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	for _, c := range conns {
		c.Close()
	}
}
