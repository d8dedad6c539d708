package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsserver/wsserver"
	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

// Issue 9: --version, --tls-cert/--tls-key, --host ::1.

func TestVersion(t *testing.T) {
	code, out, errOut := runCLI(context.Background(), "--version")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, "wsserver "+wsserver.Version+" (") || !strings.Contains(out, runtime.GOOS+"/"+runtime.GOARCH) || strings.Count(out, "\n") != 1 {
		t.Fatalf("--version printed %q", out)
	}
}

func TestTLSCertAndKeyFiles(t *testing.T) {
	ca := certtest.NewCA(t, "Test CA")
	leaf := certtest.NewLeaf(t, ca, "server.test", certtest.ECDSA)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, leaf.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, leaf.KeyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	a := startApp(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(a.ws, "wss://") {
		t.Fatalf("WebSocket URL %s, want wss://", a.ws)
	}
	c := dialWSS(t, a.ws, &tls.Config{RootCAs: pool, ServerName: "server.test"})
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, msg := read(t, c); string(msg) != "hi" {
		t.Fatalf("echo %q", msg)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", certFile}, "go together"},
		{[]string{"--tls-key", keyFile}, "go together"},
		{[]string{"--tls-cert", certFile, "--tls-key", keyFile, "--tls-self-signed"}, "excludes"},
		{[]string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", keyFile}, "missing.pem"},
		{[]string{"--tls-cert", certFile, "--tls-key", garbage}, "--tls-cert"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a server that starts stops
		code, out, errOut := runCLI(ctx, append([]string{"--host", "127.0.0.1", "--port", "0"}, tt.args...)...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line mentioning %q", tt.args, code, out, errOut, tt.want)
		}
		cancel()
	}
}

func TestHostIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	ln.Close()
	a := startApp(t, "--host", "::1")
	if !strings.Contains(a.ws, "[::1]") {
		t.Fatalf("WebSocket URL %s, want [::1]", a.ws)
	}
	c := dial(t, a.ws)
	c.WriteMessage(websocket.TextMessage, []byte("over IPv6"))
	if _, msg := read(t, c); string(msg) != "over IPv6" {
		t.Fatalf("echo %q", msg)
	}
	// The built-in page's own origin on IPv6 is allowed; another is not.
	if st := dialOrigin(t, a.ws, "http://"+strings.TrimPrefix(a.base, "http://")); st != 101 {
		t.Errorf("the page's origin %s: status %d, want 101", a.base, st)
	}
	if st := dialOrigin(t, a.ws, "http://evil.example"); st != 403 {
		t.Errorf("another origin: status %d, want 403", st)
	}
}
