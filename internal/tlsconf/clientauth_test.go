package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/certstore"
	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

type clientPKI struct {
	root, inter, leaf *certtest.Cert
	pool              *x509.CertPool
}

func newClientPKI(t *testing.T) clientPKI {
	root := certtest.NewCA(t, "Client Root CA")
	now := time.Now()
	inter := certtest.New(t, root, certtest.Options{Subject: pkix.Name{CommonName: "Client Issuing CA", Organization: []string{"Example, Inc."}}, IsCA: true,
		NotBefore: now.Add(-10 * 24 * time.Hour), NotAfter: now.Add(100 * 24 * time.Hour)})
	leaf := certtest.New(t, inter, certtest.Options{
		Subject:     pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"users"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	return clientPKI{root, inter, leaf, pool}
}

func leafWith(t *testing.T, issuer *certtest.Cert, o certtest.Options) *certtest.Cert {
	if o.Subject.CommonName == "" {
		o.Subject.CommonName = "bob"
	}
	return certtest.New(t, issuer, o)
}

func TestVerifyClientCertificate_SSLClientAuthentication(t *testing.T) {
	pki := newClientPKI(t)
	now := time.Now()
	expired := leafWith(t, pki.inter, certtest.Options{NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	future := leafWith(t, pki.inter, certtest.Options{NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(72 * time.Hour)})
	serverOnly := leafWith(t, pki.inter, certtest.Options{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	strangerCA := certtest.NewCA(t, "Stranger CA")
	stranger := leafWith(t, strangerCA, certtest.Options{})
	strangerExpired := leafWith(t, strangerCA, certtest.Options{NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	strangerServerOnly := leafWith(t, strangerCA, certtest.Options{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	notCA := leafWith(t, pki.leaf, certtest.Options{}) // issued by a leaf
	// A short-lived intermediate that was never valid at the same time as
	// the leaf it issued.
	shortInter := certtest.New(t, pki.root, certtest.Options{Subject: pkix.Name{CommonName: "Short CA"}, IsCA: true})
	expiredUnderShort := leafWith(t, shortInter, certtest.Options{NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	serverOnlyExpired := leafWith(t, shortInter, certtest.Options{NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	forged := leafWith(t, certtest.NewCA(t, "Short CA"), certtest.Options{NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})

	chain := func(c *certtest.Cert, rest ...*certtest.Cert) []*x509.Certificate {
		out := []*x509.Certificate{c.Cert}
		for _, r := range rest {
			out = append(out, r.Cert)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		chain  []*x509.Certificate
		flags  uint32
		status string
	}{
		{"valid", chain(pki.leaf, pki.inter), 0, StatusOK},
		{"valid, root sent too", chain(pki.leaf, pki.inter, pki.root), 0, StatusOK},
		{"missing intermediate", chain(pki.leaf), 0, StatusUnknownCA},
		{"expired", chain(expired, pki.inter), 0, StatusTimeInvalid},
		{"expired, 0x1", chain(expired, pki.inter), FlagIgnoreTimeValidity, StatusOK},
		{"not yet valid", chain(future, pki.inter), 0, StatusTimeInvalid},
		{"not yet valid, 0x1", chain(future, pki.inter), FlagIgnoreTimeValidity, StatusOK},
		{"unknown CA", chain(stranger), 0, StatusUnknownCA},
		{"unknown CA, 0x10", chain(stranger), FlagAllowUnknownCA, StatusOK},
		{"unknown CA and expired, 0x10", chain(strangerExpired), FlagAllowUnknownCA, StatusTimeInvalid},
		{"unknown CA and expired, 0x11", chain(strangerExpired), FlagAllowUnknownCA | FlagIgnoreTimeValidity, StatusOK},
		{"unknown CA and wrong usage, 0x10", chain(strangerServerOnly), FlagAllowUnknownCA, StatusWrongUsage},
		{"unknown CA and wrong usage, 0x30", chain(strangerServerOnly), FlagAllowUnknownCA | FlagIgnoreWrongUsage, StatusOK},
		{"wrong usage", chain(serverOnly, pki.inter), 0, StatusWrongUsage},
		{"wrong usage, 0x20", chain(serverOnly, pki.inter), FlagIgnoreWrongUsage, StatusOK},
		{"CN mismatch flag is irrelevant", chain(pki.leaf, pki.inter), FlagIgnoreCNMismatch, StatusOK},
		// crypto/x509 does not take a non-CA as an issuer at all.
		{"issuer is not a CA", chain(notCA, pki.leaf, pki.inter), 0, StatusUnknownCA},
		{"never valid together", chain(expiredUnderShort, shortInter), 0, StatusTimeInvalid},
		{"never valid together, 0x1", chain(expiredUnderShort, shortInter), FlagIgnoreTimeValidity, StatusOK},
		{"never valid together, wrong usage, 0x1", chain(serverOnlyExpired, shortInter), FlagIgnoreTimeValidity, StatusWrongUsage},
		{"never valid together, 0x21", chain(serverOnlyExpired, shortInter), FlagIgnoreTimeValidity | FlagIgnoreWrongUsage, StatusOK},
		{"bad signature link, 0x1", chain(forged, shortInter), FlagIgnoreTimeValidity, StatusUnknownCA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := VerifyClientCertificate(tc.chain, VerifyOptions{Roots: pki.pool, SecurityFlags: tc.flags})
			if !strings.HasPrefix(res.Status, tc.status) || res.Accept != (tc.status == StatusOK) {
				t.Errorf("Status %q Accept %v, want %q", res.Status, res.Accept, tc.status)
			}
			if res.CertSubject != certstore.Subject(tc.chain[0]) || res.CertIssuer != certstore.Issuer(tc.chain[0]) {
				t.Errorf("subject %q issuer %q", res.CertSubject, res.CertIssuer)
			}
		})
	}

	// The event's parameters.
	res := VerifyClientCertificate(chain(pki.leaf, pki.inter), VerifyOptions{Roots: pki.pool})
	if res.CertSubject != "CN=alice, OU=users" || res.CertIssuer != `CN=Client Issuing CA, O="Example, Inc."` {
		t.Errorf("subject %q issuer %q", res.CertSubject, res.CertIssuer)
	}
	if len(res.Chains) != 1 || len(res.Chains[0]) != 3 {
		t.Errorf("chains %v", res.Chains)
	}
	if b, _ := pem.Decode(res.CertEncoded); b == nil || !bytes.Equal(b.Bytes, pki.leaf.Cert.Raw) || bytes.Count(res.CertEncoded, []byte("BEGIN")) != 1 {
		t.Error("CertEncoded must be the leaf's PEM")
	}
	res = VerifyClientCertificate(chain(pki.leaf, pki.inter), VerifyOptions{Roots: pki.pool, IncludeCertChain: true})
	if bytes.Count(res.CertEncoded, []byte("BEGIN CERTIFICATE")) != 2 {
		t.Error("SSLIncludeCertChain: CertEncoded must hold the chain")
	}
	// Verification time.
	res = VerifyClientCertificate(chain(expired, pki.inter), VerifyOptions{Roots: pki.pool, CurrentTime: now.Add(-48 * time.Hour)})
	if res.Status != StatusOK {
		t.Errorf("at a past time: %q", res.Status)
	}
	if got := statusOf(x509.ConstraintViolationError{}); got != StatusNotCA {
		t.Errorf("statusOf(ConstraintViolationError) = %q", got)
	}
	if got := statusOf(x509.InsecureAlgorithmError(x509.SHA1WithRSA)); got != StatusWeakSignature {
		t.Errorf("statusOf(InsecureAlgorithmError) = %q", got)
	}
	if got := statusOf(x509.CertificateInvalidError{Reason: x509.TooManyIntermediates}); !strings.HasPrefix(got, StatusBadChain) {
		t.Errorf("statusOf(TooManyIntermediates) = %q", got)
	}
	if res := VerifyClientCertificate(nil, VerifyOptions{}); res.Status != StatusNoCertificate || res.Accept {
		t.Errorf("no certificate: %+v", res)
	}
	// nil Roots: the system roots, which do not know our CA.
	if res := VerifyClientCertificate(chain(pki.leaf, pki.inter), VerifyOptions{}); res.Status != StatusUnknownCA {
		t.Errorf("system roots: %q", res.Status)
	}
}

func TestVerifyPeerFunc_MutualTLSHandshake(t *testing.T) {
	pki := newClientPKI(t)
	cert, _ := serverCert(t, certtest.ECDSA)
	clientCert := tls.Certificate{Certificate: [][]byte{pki.leaf.Cert.Raw, pki.inter.Cert.Raw}, PrivateKey: pki.leaf.Key}
	stranger := leafWith(t, certtest.NewCA(t, "Other"), certtest.Options{})
	strangerCert := tls.Certificate{Certificate: [][]byte{stranger.Cert.Raw}, PrivateKey: stranger.Key}

	var got []ClientAuthResult
	decide := func(r ClientAuthResult) bool { got = append(got, r); return r.Accept }
	srv := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert,
		VerifyPeerCertificate: VerifyPeerFunc(VerifyOptions{Roots: pki.pool}, decide)}

	// Accepted.
	if _, _, err := handshake(t, srv, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{clientCert}}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Status != StatusOK || got[0].CertSubject != "CN=alice, OU=users" {
		t.Fatalf("results %+v", got)
	}
	// Refused: unknown CA.
	_, _, err := handshake(t, srv, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{strangerCert}})
	if err == nil || !strings.Contains(err.Error(), "client certificate refused: unknown certificate authority") {
		t.Fatalf("stranger: %v", err)
	}
	// The application may accept anyway (Accept is a recommendation).
	srv.VerifyPeerCertificate = VerifyPeerFunc(VerifyOptions{Roots: pki.pool}, func(ClientAuthResult) bool { return true })
	if _, _, err := handshake(t, srv, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{strangerCert}}); err != nil {
		t.Fatal(err)
	}
	// No certificate: no event, the handshake goes on.
	got = nil
	srv.VerifyPeerCertificate = VerifyPeerFunc(VerifyOptions{Roots: pki.pool}, decide)
	if _, _, err := handshake(t, srv, &tls.Config{InsecureSkipVerify: true}); err != nil || len(got) != 0 {
		t.Fatalf("no certificate: %v %v", err, got)
	}
	// nil decide uses Accept; garbage certificates are an error.
	f := VerifyPeerFunc(VerifyOptions{Roots: pki.pool}, nil)
	if err := f([][]byte{pki.leaf.Cert.Raw, pki.inter.Cert.Raw}, nil); err != nil {
		t.Error(err)
	}
	if err := f([][]byte{{1, 2, 3}}, nil); err == nil {
		t.Error("garbage accepted")
	}
}

func TestLoadCAPool_SSLCACertsOpenSSLCAFileOpenSSLCADir(t *testing.T) {
	pki := newClientPKI(t)
	other := certtest.NewCA(t, "Other Root")
	ok := func(pool *x509.CertPool, want bool) {
		t.Helper()
		res := VerifyClientCertificate([]*x509.Certificate{pki.leaf.Cert, pki.inter.Cert}, VerifyOptions{Roots: pool})
		if (res.Status == StatusOK) != want {
			t.Errorf("verify with pool: %q, want ok=%v", res.Status, want)
		}
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.root.Cert.Raw})
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Cert.Raw})

	// SSLCACerts: newline (CRLF) separated PEM.
	list := strings.ReplaceAll(string(otherPEM)+"\r\n"+string(rootPEM), "\n", "\r\n")
	pool, err := LoadCAPool(list, "", "")
	if err != nil {
		t.Fatal(err)
	}
	ok(pool, true)
	pool, _ = LoadCAPool(string(otherPEM), "", "")
	ok(pool, false)

	// OpenSSLCAFile with text around the certificates.
	dir := t.TempDir()
	file := filepath.Join(dir, "ca.pem")
	os.WriteFile(file, append(append([]byte("Our roots:\n"), rootPEM...), "trailing text\n"...), 0o600)
	pool, err = LoadCAPool("", file, "")
	if err != nil {
		t.Fatal(err)
	}
	ok(pool, true)

	// OpenSSLCADir: hash-named, .crt (DER) files; other files ignored.
	cadir := t.TempDir()
	os.WriteFile(filepath.Join(cadir, "9d66eef0.0"), rootPEM, 0o600)
	os.WriteFile(filepath.Join(cadir, "README"), []byte("not a certificate"), 0o600)
	os.WriteFile(filepath.Join(cadir, "9d66eef0.r0"), []byte("a CRL link"), 0o600)
	os.Mkdir(filepath.Join(cadir, "sub.pem"), 0o700)
	pool, err = LoadCAPool("", "", cadir)
	if err != nil {
		t.Fatal(err)
	}
	ok(pool, true)
	cadir2 := t.TempDir()
	os.WriteFile(filepath.Join(cadir2, "root.crt"), pki.root.Cert.Raw, 0o600)
	os.WriteFile(filepath.Join(cadir2, "other.pem"), otherPEM, 0o600)
	os.Symlink(filepath.Join(cadir2, "missing"), filepath.Join(cadir2, "deadbeef.0"))
	pool, err = LoadCAPool("", "", cadir2)
	if err != nil {
		t.Fatal(err)
	}
	ok(pool, true)

	// The three combine.
	pool, err = LoadCAPool(string(otherPEM), file, cadir2)
	if err != nil {
		t.Fatal(err)
	}
	ok(pool, true)

	if pool, err := LoadCAPool("  ", "", ""); pool != nil || err != nil {
		t.Error("no settings must give nil (system roots)")
	}
	trusted := pem.EncodeToMemory(&pem.Block{Type: "TRUSTED CERTIFICATE", Bytes: append(append([]byte{}, pki.root.Cert.Raw...), 0x30, 0x00)})
	if pool, err := LoadCAPool(string(trusted), "", ""); err != nil {
		t.Errorf("TRUSTED CERTIFICATE: %v", err)
	} else {
		ok(pool, true)
	}
	for _, tc := range []struct{ ca, file, dir, frag string }{
		{"garbage", "", "", "SSLCACerts: no PEM certificate"},
		{"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "", "", "SSLCACerts: certificate 1"},
		{"", filepath.Join(dir, "none.pem"), "", "OpenSSLCAFile"},
		{"", "", filepath.Join(dir, "nodir"), "OpenSSLCADir"},
		{"", "", t.TempDir(), "holds no certificate files"},
	} {
		if _, err := LoadCAPool(tc.ca, tc.file, tc.dir); err == nil || !strings.Contains(err.Error(), tc.frag) {
			t.Errorf("%+v: %v", tc, err)
		}
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "x.pem"), []byte("nothing"), 0o600)
	if _, err := LoadCAPool("", "", bad); err == nil || !strings.Contains(err.Error(), "x.pem") {
		t.Errorf("bad file in dir: %v", err)
	}
}

func TestOpenKeyLog_SSLKeyLogFile(t *testing.T) {
	// "When writing to this file the component will only append, it will
	// not overwrite previous values."
	p := filepath.Join(t.TempDir(), "keys.log")
	if err := os.WriteFile(p, []byte("# earlier session\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := OpenKeyLog(p)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := serverCert(t, certtest.ECDSA)
	if _, _, err := handshake(t, &tls.Config{Certificates: []tls.Certificate{cert}, KeyLogWriter: f}, &tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(b), "# earlier session\n") || !strings.Contains(string(b), "CLIENT_HANDSHAKE_TRAFFIC_SECRET ") {
		t.Errorf("key log:\n%s", b)
	}
	p2 := filepath.Join(t.TempDir(), "new.log")
	f, err = OpenKeyLog(p2)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(p2); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := OpenKeyLog(""); err == nil {
		t.Error("empty path")
	}
	if _, err := OpenKeyLog(filepath.Join(t.TempDir(), "no", "dir")); err == nil {
		t.Error("bad path")
	}
}
