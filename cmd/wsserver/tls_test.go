package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

// dialWSS connects a gorilla client over TLS and closes it when the test ends.
func dialWSS(t *testing.T, url string, conf *tls.Config) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: conf}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTLSSelfSigned(t *testing.T) {
	a := startApp(t, "--tls-self-signed")
	if !strings.HasPrefix(a.ws, "wss://") || !strings.HasPrefix(a.base, "https://") {
		t.Fatalf("URLs %s and %s, want wss and https", a.ws, a.base)
	}
	c := dialWSS(t, a.ws, &tls.Config{InsecureSkipVerify: true})
	cs := c.UnderlyingConn().(*tls.Conn).ConnectionState()
	leaf := cs.PeerCertificates[0]
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Errorf("the self-signed certificate: %v", err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("the self-signed certificate: %v", err)
	}
	if cs.Version != tls.VersionTLS13 {
		t.Errorf("negotiated %s, want TLS 1.3", tls.VersionName(cs.Version))
	}
	// Issue 12: the banner prints the fingerprint of the certificate the
	// clients see, so that a user can check what the browser shows.
	sum := sha256.Sum256(leaf.Raw)
	if got := certFingerprint(a.srv.SSLCertEncodedB()); strings.ReplaceAll(got, ":", "") != strings.ToUpper(hex.EncodeToString(sum[:])) || len(got) != 32*3-1 {
		t.Errorf("certFingerprint: %q, want SHA-256 %x", got, sum)
	}
	c.WriteMessage(websocket.TextMessage, []byte("over TLS"))
	if _, msg := read(t, c); string(msg) != "over TLS" {
		t.Fatalf("echo %q", msg)
	}
	// The page too, trusting the certificate the server showed.
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	resp, err := client.Get(strings.Replace(a.base, "127.0.0.1", "localhost", 1) + "/connections")
	if err != nil {
		t.Fatalf("GET /connections over https: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /connections: %s", resp.Status)
	}
}

func TestTLSCertStore(t *testing.T) {
	ca := certtest.NewCA(t, "Test CA")
	leaf := certtest.NewLeaf(t, ca, "server.test", certtest.ECDSA)
	file := filepath.Join(t.TempDir(), "server.pem")
	if err := os.WriteFile(file, append(leaf.CertPEM(), leaf.KeyPEM(t)...), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, args := range [][]string{
		{"--tls-cert-store", file},
		{"--tls-cert-store", file, "--tls-cert-store-type", "pemkeyfile", "--tls-cert-subject", "server.test"},
		{"--tls-cert-store", file, "--tls-cert-store-type", "6", "--config", "SSLEnabledProtocols=3072"},
	} {
		a := startApp(t, args...)
		c := dialWSS(t, a.ws, &tls.Config{RootCAs: pool, ServerName: "server.test"})
		c.WriteMessage(websocket.TextMessage, []byte("hi"))
		if _, msg := read(t, c); string(msg) != "hi" {
			t.Fatalf("%q: echo %q", args, msg)
		}
	}
}

func TestTLSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-self-signed", "--tls-cert-store", "x.pem"}, "exclude each other"},
		{[]string{"--tls-cert-store", "x.pem", "--tls-cert-store-type", "jks"}, "--tls-cert-store-type"},
		{[]string{"--tls-cert-store", filepath.Join(dir, "missing.pem")}, "missing.pem"},
		{[]string{"--tls-self-signed", "--config", "SSLEnabledProtocols=48"}, "SSLEnabledProtocols"},
	} {
		code, out, errOut := runCLI(context.Background(), append([]string{"--host", "127.0.0.1", "--port", "0"}, tt.args...)...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line mentioning %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

// Issue 12: with --tls-self-signed the banner prints the SHA-256
// fingerprint of the certificate clients are shown, so that a user can
// compare it with what the browser shows before trusting it.
func TestBannerPrintsCertificateFingerprint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- cli(ctx, nil, []string{"--host", "127.0.0.1", "--port", "0", "--stats", "0", "--tls-self-signed"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exit:
		case <-time.After(15 * time.Second):
			t.Error("the command did not exit within 15s of the shutdown")
		}
	})
	got := awaitOutput(t, "the banner names the certificate", &stdout, &stderr, exit,
		regexp.MustCompile(`(?m)^  TLS: +certificate SHA-256 ([0-9A-F:]+)$`),
		regexp.MustCompile(`WebSocket: (wss://\S+)`))
	printed, url := got[0], got[1]
	c := dialWSS(t, url, &tls.Config{InsecureSkipVerify: true})
	sum := sha256.Sum256(c.UnderlyingConn().(*tls.Conn).ConnectionState().PeerCertificates[0].Raw)
	if want := strings.ToUpper(hex.EncodeToString(sum[:])); strings.ReplaceAll(printed, ":", "") != want {
		t.Errorf("the banner prints %s; the certificate's SHA-256 is %s", printed, want)
	}
}
