package certstore

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

// wantCode fails unless err is an *Error with the code and a message that
// contains every fragment.
func wantCode(t *testing.T, err error, code int, fragments ...string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error with code %d", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %d, want %d (message %q)", e.Code, code, e.Message)
	}
	for _, f := range fragments {
		if !strings.Contains(e.Message, f) {
			t.Errorf("message %q does not contain %q", e.Message, f)
		}
	}
	if e.Message != strings.TrimSpace(e.Message) || e.Message == "" {
		t.Errorf("bad message %q", e.Message)
	}
	return e
}

// writeFile writes data to a file in t.TempDir and returns its name.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openssl runs the openssl command in dir, skipping the test when it is
// missing; it fails the test when the command fails unless allowFail.
func openssl(t *testing.T, dir string, allowFail bool, args ...string) error {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl command not found: cannot make the test file")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil && !allowFail {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err != nil {
		return errors.New(string(bytes.TrimSpace(out)))
	}
	return nil
}

// chainFixture is a CA, an intermediate and a leaf.
type chainFixture struct {
	ca, inter, leaf *certtest.Cert
}

func newChain(t *testing.T, kt certtest.KeyType, cn string) chainFixture {
	t.Helper()
	ca := certtest.NewCA(t, "Test Root CA")
	inter := certtest.New(t, ca, certtest.Options{Subject: pkixName("Test Intermediate CA"), IsCA: true})
	leaf := certtest.NewLeaf(t, inter, cn, kt)
	return chainFixture{ca, inter, leaf}
}

// handshake runs a TLS 1.3 and a TLS 1.2 handshake with cert as the server
// certificate and checks the client sees the leaf.
func handshake(t *testing.T, cert tls.Certificate) {
	t.Helper()
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		c1, c2 := net.Pipe()
		srv := tls.Server(c1, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: v, MaxVersion: v})
		cli := tls.Client(c2, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v})
		errc := make(chan error, 1)
		go func() { errc <- srv.Handshake() }()
		_ = cli.SetDeadline(time.Now().Add(10 * time.Second))
		if err := cli.Handshake(); err != nil {
			t.Fatalf("client handshake (%s): %v", tls.VersionName(v), err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("server handshake (%s): %v", tls.VersionName(v), err)
		}
		if got := cli.ConnectionState().PeerCertificates[0]; !bytes.Equal(got.Raw, cert.Certificate[0]) {
			t.Fatal("client saw another certificate")
		}
		// Close the pipe, not the TLS conns: a close_notify would block on the
		// synchronous pipe until nobody reads it.
		c1.Close()
		c2.Close()
	}
}
