package interop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// transports are the two ways the tests reach the command: ws:// and
// http://, or wss:// and https:// with a certificate signed by a CA made
// for the test, which the clients are given to trust (they verify the chain
// and the address, as against any server).
var transports = []struct {
	name string
	tls  bool
}{
	{"ws", false},
	{"wss", true},
}

// pki is a CA and a server certificate it signed for 127.0.0.1, ::1 and
// localhost, written as PEM files into a temporary directory.
type pki struct {
	caFile     string         // the CA's certificate: what clients trust
	serverFile string         // the server's certificate and key: --tls-cert-store
	spkiPin    string         // base64 SHA-256 of the server certificate's SubjectPublicKeyInfo, as Chromium's --ignore-certificate-errors-spki-list wants it
	pool       *x509.CertPool // the CA, for Go clients
}

// newPKI makes a CA and a server certificate into t.TempDir().
func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	ca, caKey := newCA(t, "wsserver interop test CA")
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"wsserver interop test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{
		caFile:     filepath.Join(dir, "ca.pem"),
		serverFile: filepath.Join(dir, "server.pem"),
		pool:       x509.NewCertPool(),
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	p.spkiPin = base64.StdEncoding.EncodeToString(sum[:])
	p.pool.AddCert(ca)
	writePEM(t, p.caFile, &pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	writePEM(t, p.serverFile,
		&pem.Block{Type: "CERTIFICATE", Bytes: der},
		&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return p
}

// newCA makes a self-signed CA certificate and its key.
func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t *testing.T, file string, blocks ...*pem.Block) {
	t.Helper()
	var out []byte
	for _, b := range blocks {
		out = append(out, pem.EncodeToMemory(b)...)
	}
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// startServerOver starts the command as startServer does, over TLS when
// tlsOn is set: it then serves the certificate of a new pki (returned; nil
// without TLS) from a PEM file through --tls-cert-store.
func startServerOver(t *testing.T, tlsOn bool, args ...string) (*server, *pki) {
	t.Helper()
	if !tlsOn {
		return startServer(t, args...), nil
	}
	p := newPKI(t)
	srv := startServer(t, append([]string{"--tls-cert-store", p.serverFile}, args...)...)
	if !strings.HasPrefix(srv.ws, "wss://127.0.0.1:") || !strings.HasPrefix(srv.page, "https://127.0.0.1:") {
		t.Fatalf("with --tls-cert-store the command prints %s and %s; want wss:// and https:// on 127.0.0.1", srv.ws, srv.page)
	}
	return srv, p
}

// tlsConfig is what Go clients use to reach a server started with p: only
// p's CA is trusted. Nil for a server without TLS.
func (p *pki) tlsConfig() *tls.Config {
	if p == nil {
		return nil
	}
	return &tls.Config{RootCAs: p.pool}
}

// caFileOrEmpty is the CA file a client script is given: "" without TLS.
func (p *pki) caFileOrEmpty() string {
	if p == nil {
		return ""
	}
	return p.caFile
}

// TestClientsVerifyTLS checks that the scripts really verify the server's
// certificate over wss://: given another CA than the one that signed it,
// each client must refuse the connection. (With the right CA, TestClients
// passes: so the CA parameter is what makes it work, not a switched-off
// check.)
func TestClientsVerifyTLS(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			cl.need(t)
			srv, _ := startServerOver(t, true)
			other, _ := newCA(t, "some other CA")
			wrong := filepath.Join(t.TempDir(), "other-ca.pem")
			writePEM(t, wrong, &pem.Block{Type: "CERTIFICATE", Bytes: other.Raw})
			run := cl.start(t, srv.ws, "text", wrong)
			msg := run.failure(t)
			if !strings.Contains(strings.ToLower(msg), "certificate") {
				t.Errorf("%s with the wrong CA failed, but not on the certificate: %s", cl.name, msg)
			}
			t.Logf("refused as it should be: %s", firstLine(msg))
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
