package wsserver

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

// The helpers of the TLS tests (tls*_test.go): certificates made with
// certtest, a started UseSSL server, Go and openssl s_client clients.

// tlsEnv is a test CA with a server certificate for "server.test".
type tlsEnv struct {
	ca   *certtest.Cert
	leaf *certtest.Cert // ECDSA P-256, CN=server.test
	pool *x509.CertPool // trusts ca
}

func newTLSEnv(t *testing.T) *tlsEnv {
	t.Helper()
	ca := certtest.NewCA(t, "Test CA")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tlsEnv{ca: ca, leaf: certtest.NewLeaf(t, ca, "server.test", certtest.ECDSA), pool: pool}
}

// client returns a client configuration that trusts the CA and expects
// server.test.
func (e *tlsEnv) client() *tls.Config {
	return &tls.Config{RootCAs: e.pool, ServerName: "server.test"}
}

// pemBlob returns a certificate and its key as one PEM text.
func pemBlob(t *testing.T, c *certtest.Cert) []byte {
	t.Helper()
	return append(c.CertPEM(), c.KeyPEM(t)...)
}

// start starts a UseSSL server with the env's certificate (a PEMKeyBlob),
// letting setup change events and settings first. The harness URL is wss://.
func (e *tlsEnv) start(t *testing.T, setup func(s *Server)) *harness {
	t.Helper()
	h := newHarness(t, func(s *Server) {
		mustOK(t, s.SetSSLCertStoreType(7))
		mustOK(t, s.SetSSLCertStoreB(pemBlob(t, e.leaf)))
		mustOK(t, s.SetSSLCertSubject("*"))
		mustOK(t, s.SetUseSSL(true))
		if setup != nil {
			setup(s)
		}
	})
	h.url = strings.Replace(h.url, "ws://", "wss://", 1)
	return h
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// setConfig sets config settings, failing the test on an error.
func setConfig(t testing.TB, s *Server, settings ...string) {
	t.Helper()
	for _, c := range settings {
		if _, err := s.Config(c); err != nil {
			t.Fatalf("Config(%q): %v", c, err)
		}
	}
}

// wssDial opens a gorilla wss client; the test closes it at its end.
func wssDial(t *testing.T, url string, conf *tls.Config) (*websocket.Conn, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitLimit, TLSClientConfig: conf}
	conn, _, err := d.Dial(url, nil)
	if err == nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, err
}

// wssOpen is wssDial that must succeed; it returns the connection's state
// and waits for the server's ConnectionID.
func wssOpen(t *testing.T, h *harness, conf *tls.Config) (*websocket.Conn, tls.ConnectionState, int) {
	t.Helper()
	conn, err := wssDial(t, h.url, conf)
	if err != nil {
		t.Fatalf("wss dial %s: %v", h.url, err)
	}
	return conn, conn.UnderlyingConn().(*tls.Conn).ConnectionState(), h.nextID(t)
}

// wssRefused fails unless a wss client is refused: at the handshake, or,
// for TLS 1.3, whose client finishes before the server has decided, at its
// first read.
func wssRefused(t *testing.T, h *harness, conf *tls.Config) error {
	t.Helper()
	conn, err := wssDial(t, h.url, conf)
	if err != nil {
		return err
	}
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	_, _, err = conn.ReadMessage()
	if err == nil {
		t.Fatal("a client the server should refuse was served")
	}
	return err
}

// writeTemp writes data to name in dir and returns the path.
func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runOpenSSL runs the openssl command in dir (skipping the test when there
// is none) and returns its combined output and error.
func runOpenSSL(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("the openssl command is not installed")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// syncBuffer is a bytes.Buffer for the output of a process.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// sClient is the result of an openssl s_client session.
type sClient struct {
	out      string // stdout and stderr
	upgraded bool   // the server answered the WebSocket upgrade with 101
}

// line returns the text after the first line of out that starts with
// prefix, trimmed.
func (r sClient) line(prefix string) string {
	for _, l := range strings.Split(r.out, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(l, prefix))
		}
	}
	return ""
}

// runSClient connects `openssl s_client` with args to addr (as server.test),
// sends a WebSocket upgrade request, and waits for the 101 response or for
// s_client to give up. The process is killed by its PID when it outlives
// the session or the test.
func runSClient(t *testing.T, addr string, args ...string) sClient {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("the openssl command is not installed")
	}
	cmd := exec.Command(path, append([]string{"s_client", "-connect", addr, "-servername", "server.test"}, args...)...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
			<-exited
		}
	})
	io.WriteString(stdin, "GET / HTTP/1.1\r\nHost: server.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	deadline := time.Now().Add(2 * waitLimit)
	for !strings.Contains(out.String(), "101 Switching Protocols") && time.Now().Before(deadline) {
		select {
		case <-exited:
			deadline = time.Now()
		case <-time.After(20 * time.Millisecond):
		}
	}
	stdin.Close() // s_client ends at the end of its input
	select {
	case <-exited:
	case <-time.After(waitLimit):
		cmd.Process.Kill()
		<-exited
	}
	s := out.String()
	return sClient{out: s, upgraded: strings.Contains(s, "101 Switching Protocols")}
}

// wantSSLError fails unless err is an *Error with the code and a message
// that contains every fragment.
func wantSSLError(t *testing.T, what string, err error, code int, fragments ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: got %v, want error %d", what, err, code)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: message %q does not say %q", what, err.Error(), f)
		}
	}
}

func pkixName(cn string, org ...string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: org}
}
