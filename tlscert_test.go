package wsserver

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wsserver/wsserver/internal/certstore"
	"github.com/wsserver/wsserver/internal/certstore/certtest"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of the SSLCert properties: the reference's store types that exist
// on Linux, SSLCertSubject's selection rules, and the error codes 270-282.

// certStoreCase is a certificate store that holds env's server certificate.
type certStoreCase struct {
	name     string
	typ      int
	store    []byte
	password string
}

// serveWith starts a UseSSL server with the store and checks that a client
// sees env's server certificate with its CA in the chain when withChain.
func serveWith(t *testing.T, env *tlsEnv, sc certStoreCase, withChain bool) {
	t.Helper()
	s := New()
	mustOK(t, s.SetSSLCertStoreType(sc.typ))
	mustOK(t, s.SetSSLCertStoreB(sc.store))
	mustOK(t, s.SetSSLCertStorePassword(sc.password))
	if err := s.SetSSLCertSubject("CN=server.test"); err != nil {
		t.Fatalf("SSLCertSubject: %v", err)
	}
	if got := s.SSLCertSubject(); got != "CN=server.test" {
		t.Fatalf("SSLCertSubject reads %q", got)
	}
	if !strings.Contains(s.SSLCertEncoded(), "BEGIN CERTIFICATE") {
		t.Fatalf("SSLCertEncoded reads %q", s.SSLCertEncoded())
	}
	mustOK(t, s.SetUseSSL(true))
	url := strings.Replace(startServer(t, s), "ws://", "wss://", 1)
	conn, err := wssDial(t, url, env.client())
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	certs := conn.UnderlyingConn().(*tls.Conn).ConnectionState().PeerCertificates
	if !certs[0].Equal(env.leaf.Cert) {
		t.Fatalf("the server presented %s", certs[0].Subject)
	}
	if withChain && (len(certs) != 2 || !certs[1].Equal(env.ca.Cert)) {
		t.Fatalf("the server sent %d certificates, want the leaf and its CA", len(certs))
	}
}

func TestSSLCertStoreType_PEMAndPublicKeyForms(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	dir := t.TempDir()
	keyAndChain := append(pemBlob(t, env.leaf), env.ca.CertPEM()...)
	pemFile := writeTemp(t, dir, "server.pem", keyAndChain)
	for _, sc := range []certStoreCase{
		{name: "PEMKeyFile", typ: 6, store: []byte(pemFile)},
		{name: "PEMKeyBlob", typ: 7, store: keyAndChain},
		{name: "PEMKeyBlob base64", typ: 7, store: []byte(base64.StdEncoding.EncodeToString(keyAndChain))},
		{name: "Auto file", typ: 99, store: []byte(pemFile)},
		{name: "Auto blob", typ: 99, store: keyAndChain},
	} {
		t.Run(sc.name, func(t *testing.T) { serveWith(t, env, sc, true) })
	}
}

func TestSSLCertStoreType_PFXMadeByOpenSSL(t *testing.T) {
	// PFX files as the openssl command writes them: OpenSSL 3's default
	// (PBES2 with AES-256-CBC, HMAC-SHA256 MAC), the legacy 3DES form, and
	// RC2-40 (-legacy, when the legacy provider is installed).
	checkGoroutines(t)
	env := newTLSEnv(t)
	dir := t.TempDir()
	writeTemp(t, dir, "leaf.pem", env.leaf.CertPEM())
	writeTemp(t, dir, "key.pem", env.leaf.KeyPEM(t))
	writeTemp(t, dir, "ca.pem", env.ca.CertPEM())
	base := []string{"pkcs12", "-export", "-in", "leaf.pem", "-inkey", "key.pem", "-certfile", "ca.pem", "-passout", "pass:s3cret"}
	for _, c := range []struct {
		name     string
		extra    []string
		optional bool
	}{
		{name: "aes", extra: []string{"-out", "aes.pfx"}},
		{name: "3des", extra: []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1", "-out", "3des.pfx"}},
		{name: "rc2", extra: []string{"-legacy", "-out", "rc2.pfx"}, optional: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if out, err := runOpenSSL(t, dir, append(base, c.extra...)...); err != nil {
				if c.optional {
					t.Skipf("openssl cannot write this PFX here: %s", strings.TrimSpace(out))
				}
				t.Fatalf("openssl: %v\n%s", err, out)
			}
			file := filepath.Join(dir, c.name+".pfx")
			blob := readFile(t, file)
			serveWith(t, env, certStoreCase{typ: 2, store: []byte(file), password: "s3cret"}, true)
			serveWith(t, env, certStoreCase{typ: 3, store: blob, password: "s3cret"}, true)
			serveWith(t, env, certStoreCase{typ: 3, store: []byte(base64.StdEncoding.EncodeToString(blob)), password: "s3cret"}, true)
			serveWith(t, env, certStoreCase{typ: 99, store: []byte(file), password: "s3cret"}, true)
		})
	}
}

func TestSSLCertStoreType_EncryptedPEMKey(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	dir := t.TempDir()
	writeTemp(t, dir, "key.pem", env.leaf.KeyPEM(t))
	if out, err := runOpenSSL(t, dir, "pkcs8", "-topk8", "-v2", "aes256", "-in", "key.pem", "-out", "enc.pem", "-passout", "pass:pw"); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	file := writeTemp(t, dir, "server.pem", append(env.leaf.CertPEM(), readFile(t, filepath.Join(dir, "enc.pem"))...))
	serveWith(t, env, certStoreCase{typ: 6, store: []byte(file), password: "pw"}, false)

	s := New()
	mustOK(t, s.SetSSLCertStoreType(6))
	mustOK(t, s.SetSSLCertStore(file))
	mustOK(t, s.SetSSLCertStorePassword("wrong"))
	wantSSLError(t, "encrypted PEM key with a wrong password", s.SetSSLCertSubject("*"), 271, "password")

	// The same text as SSLCertEncoded: the key in it opens with the password.
	text := string(readFile(t, file))
	wantSSLError(t, "SSLCertEncoded with an encrypted key and a wrong password", s.SetSSLCertEncoded(text), 271, "password")
	mustOK(t, s.SetSSLCertStorePassword("pw"))
	mustOK(t, s.SetSSLCertEncoded(text))
	if got := s.SSLCertSubject(); got != "CN=server.test" {
		t.Fatalf("SSLCertSubject after SSLCertEncoded = %q", got)
	}
}

func TestSSLCertStoreType_JWKWithCertificateChain(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	k := env.leaf.Key.(*ecdsa.PrivateKey)
	b64url := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, 32))) }
	jwk, err := json.Marshal(map[string]any{
		"kty": "EC", "crv": "P-256",
		"x": b64url(k.X), "y": b64url(k.Y), "d": base64.RawURLEncoding.EncodeToString(mustECBytes(t, k)),
		"x5c": []string{base64.StdEncoding.EncodeToString(env.leaf.Cert.Raw), base64.StdEncoding.EncodeToString(env.ca.Cert.Raw)},
	})
	if err != nil {
		t.Fatal(err)
	}
	serveWith(t, env, certStoreCase{typ: 19, store: jwk}, true)
	serveWith(t, env, certStoreCase{typ: 18, store: []byte(writeTemp(t, t.TempDir(), "key.jwk", jwk))}, true)
}

func TestSSLCertStoreType_CertificateWithoutKey273(t *testing.T) {
	// PublicKeyFile and P7B stores hold certificates only: SSLCertSubject
	// selects one (the reference reads back its subject), and StartListening
	// cannot use it: 273 cannot acquire security credentials.
	env := newTLSEnv(t)
	dir := t.TempDir()
	writeTemp(t, dir, "leaf.pem", env.leaf.CertPEM())
	writeTemp(t, dir, "ca.pem", env.ca.CertPEM())
	if out, err := runOpenSSL(t, dir, "crl2pkcs7", "-nocrl", "-certfile", "leaf.pem", "-certfile", "ca.pem", "-out", "chain.p7b"); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	for _, sc := range []certStoreCase{
		{name: "PublicKeyFile", typ: 8, store: []byte(filepath.Join(dir, "leaf.pem"))},
		{name: "PublicKeyBlob", typ: 9, store: env.leaf.Cert.Raw},
		{name: "P7BFile", typ: 11, store: []byte(filepath.Join(dir, "chain.p7b"))},
		{name: "P7BBlob", typ: 12, store: readFile(t, filepath.Join(dir, "chain.p7b"))},
	} {
		t.Run(sc.name, func(t *testing.T) {
			s := New()
			mustOK(t, s.SetSSLCertStoreType(sc.typ))
			mustOK(t, s.SetSSLCertStoreB(sc.store))
			mustOK(t, s.SetSSLCertSubject("server.test"))
			if got := s.SSLCertSubject(); got != "CN=server.test" {
				t.Fatalf("SSLCertSubject reads %q", got)
			}
			mustOK(t, s.SetUseSSL(true))
			mustOK(t, s.SetLocalHost("127.0.0.1"))
			err := s.StartListening()
			if err == nil {
				s.Shutdown()
				t.Fatal("StartListening served a certificate without its private key")
			}
			wantSSLError(t, "StartListening", err, 273, "no private key", "CN=server.test")
			if s.Listening() {
				t.Fatal("Listening after a failed StartListening")
			}
		})
	}
}

func TestSSLCertEncoded_KeyFromTheStore(t *testing.T) {
	// Reference: "When Encoded is set, a search is initiated in the current
	// Store for the private key of the certificate."
	checkGoroutines(t)
	env := newTLSEnv(t)
	keyFile := writeTemp(t, t.TempDir(), "key.pem", env.leaf.KeyPEM(t)) // the key alone
	s := New()
	mustOK(t, s.SetSSLCertStoreType(6))
	mustOK(t, s.SetSSLCertStore(keyFile))
	mustOK(t, s.SetSSLCertEncoded(string(env.leaf.CertPEM())))
	if got := s.SSLCertSubject(); got != "CN=server.test" {
		t.Fatalf("SSLCertSubject after SSLCertEncoded = %q", got)
	}
	mustOK(t, s.SetUseSSL(true))
	url := strings.Replace(startServer(t, s), "ws://", "wss://", 1)
	if _, err := wssDial(t, url, env.client()); err != nil {
		t.Fatalf("wss dial: %v", err)
	}

	// A store without the key: no subject, and StartListening says why.
	other := certtest.NewLeaf(t, env.ca, "other.test", certtest.ECDSA)
	s2 := New()
	mustOK(t, s2.SetSSLCertStoreType(6))
	mustOK(t, s2.SetSSLCertStore(keyFile))
	mustOK(t, s2.SetSSLCertEncoded(string(other.CertPEM())))
	if got := s2.SSLCertSubject(); got != "" {
		t.Fatalf("SSLCertSubject without a key = %q, want empty", got)
	}
	mustOK(t, s2.SetUseSSL(true))
	err := s2.StartListening()
	if err == nil {
		s2.Shutdown()
		t.Fatal("StartListening without the certificate's key succeeded")
	}
	wantSSLError(t, "StartListening", err, 273, "private key", "CN=other.test")
}

func TestSSLCertSubject_SelectionRules(t *testing.T) {
	// Reference: an exact match, then a subject containing the value; "*"
	// (we take the first); the property reads back the full subject, or ""
	// when nothing matched.
	ca := certtest.NewCA(t, "Test CA")
	var store []byte
	for _, n := range []struct{ cn, org string }{
		{"alpha.test", "Example"}, {"beta.test", "Example"}, {"beta.test", "Example Beta Division"}, {"gamma.test", "Other, Inc."},
	} {
		c := certtest.New(t, ca, certtest.Options{Subject: pkixName(n.cn, n.org), DNSNames: []string{n.cn},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		store = append(store, pemBlob(t, c)...)
	}
	s := New()
	mustOK(t, s.SetSSLCertStoreType(7))
	mustOK(t, s.SetSSLCertStoreB(store))
	for _, c := range []struct{ subject, want string }{
		{"*", "CN=alpha.test, O=Example"},
		{"CN=beta.test, O=Example Beta Division", "CN=beta.test, O=Example Beta Division"}, // exact wins over the earlier partial match
		{"CN=beta.test, O=Example", "CN=beta.test, O=Example"},
		{"beta", "CN=beta.test, O=Example"}, // the first containing it
		{"Beta Division", "CN=beta.test, O=Example Beta Division"},
		{"GAMMA.TEST", `CN=gamma.test, O="Other, Inc."`}, // ignoring case; a comma quoted
	} {
		if err := s.SetSSLCertSubject(c.subject); err != nil {
			t.Fatalf("SSLCertSubject=%q: %v", c.subject, err)
		}
		if got := s.SSLCertSubject(); got != c.want {
			t.Errorf("SSLCertSubject=%q reads %q, want %q", c.subject, got, c.want)
		}
	}
	wantSSLError(t, "a subject no certificate has", s.SetSSLCertSubject("CN=delta.test"), 272, "delta.test")
	if got := s.SSLCertSubject(); got != "" {
		t.Fatalf("SSLCertSubject after no match = %q, want empty", got)
	}
	wantSSLError(t, "an empty subject", s.SetSSLCertSubject(""), 282)
	mustOK(t, s.SetUseSSL(true))
	if err := s.StartListening(); err == nil {
		s.Shutdown()
		t.Fatal("StartListening with no certificate selected succeeded")
	} else {
		wantSSLError(t, "StartListening with none selected", err, 282, "SSLCertSubject")
	}
}

func TestSSLCert_ErrorCodes270To282(t *testing.T) {
	// Each failure has its own code and a message that says why.
	env := newTLSEnv(t)
	dir := t.TempDir()
	pfx := filepath.Join(dir, "server.pfx")
	writeTemp(t, dir, "leaf.pem", env.leaf.CertPEM())
	writeTemp(t, dir, "key.pem", env.leaf.KeyPEM(t))
	if out, err := runOpenSSL(t, dir, "pkcs12", "-export", "-in", "leaf.pem", "-inkey", "key.pem", "-out", pfx, "-passout", "pass:right"); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	pemFile := writeTemp(t, dir, "server.pem", pemBlob(t, env.leaf))
	messages := map[string]string{}
	for _, c := range []struct {
		name, store, password, subject string
		typ                            int
		code                           int
		says                           []string
	}{
		{"wrong password", pfx, "wrong", "*", 2, 271, []string{"password"}},
		{"no password", pfx, "", "*", 2, 271, []string{"password"}},
		{"missing file", filepath.Join(dir, "missing.pfx"), "right", "*", 2, 271, []string{"does not exist"}},
		{"missing PEM file", filepath.Join(dir, "missing.pem"), "", "*", 6, 271, []string{"missing.pem"}},
		{"not a PFX", pemFile, "", "*", 2, 271, []string{"PFX"}},
		{"subject not found", pfx, "right", "CN=nobody.test", 2, 272, []string{"nobody.test", "CN=server.test"}},
		{"Windows user store", "MY", "", "*", 0, 271, []string{"Windows", "Linux"}},
		{"Windows machine store", "MY", "", "*", 1, 271, []string{"Windows"}},
		{"Java key store", "x.jks", "", "*", 4, 271, []string{"Java"}},
		{"JKS blob", "AAAA", "", "*", 5, 271, []string{"Java"}},
		{"BCFKS", "x.bcfks", "", "*", 21, 271, []string{"Bouncy Castle"}},
		{"PKCS#11", "/usr/lib/opensc-pkcs11.so", "1234", "*", 23, 270, []string{"PKCS#11"}},
		{"security key", "x", "", "*", 20, 270, []string{"PKCS#11"}},
		{"SSH public key", "ssh-ed25519 AAAA test", "", "*", 10, 272, []string{"SSH"}},
		{"PPK", "PuTTY-User-Key-File-3: ssh-ed25519", "", "*", 15, 272, []string{"PuTTY"}},
		{"XML key", "<RSAKeyValue/>", "", "*", 17, 272, []string{"XML"}},
		{"empty subject", pemFile, "", "", 6, 282, []string{"SSLCertSubject"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New()
			mustOK(t, s.SetSSLCertStoreType(c.typ))
			mustOK(t, s.SetSSLCertStore(c.store))
			mustOK(t, s.SetSSLCertStorePassword(c.password))
			err := s.SetSSLCertSubject(c.subject)
			wantSSLError(t, "SSLCertSubject", err, c.code, c.says...)
			if s.SSLCertSubject() != "" || s.SSLCertEncoded() != "" {
				t.Fatalf("a certificate stays selected: %q", s.SSLCertSubject())
			}
			if prev, ok := messages[err.Error()]; ok {
				t.Errorf("%q and %q give the same message %q", prev, c.name, err.Error())
			}
			messages[err.Error()] = c.name
		})
	}
	// A number the reference does not define.
	wantCode(t, "SSLCertStoreType=50", New().SetSSLCertStoreType(50), ErrInvalidValue)
}

func TestSSLConnectionRequest_ECDSAOrRSAByClient(t *testing.T) {
	// Reference: the event "allows the component to be configured to use both
	// RSA and ECDSA certificates depending on the connecting client's
	// capabilities". The store holds both; the handler picks by the
	// client's signature algorithms.
	checkGoroutines(t)
	env := newTLSEnv(t)
	ecdsaCert := certtest.New(t, env.ca, certtest.Options{Subject: pkixName("server.test", "ECDSA"), Key: certtest.ECDSA, DNSNames: []string{"server.test"}})
	rsaCert := certtest.New(t, env.ca, certtest.Options{Subject: pkixName("server.test", "RSA"), Key: certtest.RSA, DNSNames: []string{"server.test"}})
	store := append(pemBlob(t, rsaCert), pemBlob(t, ecdsaCert)...)
	ev := wiretest.NewRecorder()
	h := env.start(t, func(s *Server) {
		setConfig(t, s, "SSLEnabledProtocols=15360") // TLS 1.2 and 1.3
		s.Events.OnSSLConnectionRequest = func(e *SSLConnectionRequestEvent) {
			ev.Add("request %d suites=%v", e.ConnectionID, strings.Contains(e.SupportedCipherSuites, "TLS_AES_128_GCM_SHA256"))
			e.CertStoreType, e.CertStore, e.CertPassword = 7, string(store), ""
			e.CertSubject = "O=RSA"
			if strings.Contains(e.SupportedSignatureAlgs, "ecdsa_secp256r1_sha256") {
				e.CertSubject = "O=ECDSA"
			}
		}
	})
	_, cs, id := wssOpen(t, h, env.client())
	if got := cs.PeerCertificates[0]; !got.Equal(ecdsaCert.Cert) {
		t.Fatalf("a Go client (ECDSA capable) got %s", got.Subject)
	}
	ev.WaitFor(t, "request "+strconv.Itoa(id)+" suites=true")

	// openssl offering RSA signature algorithms only gets the RSA certificate.
	r := runSClient(t, h.addr, "-sigalgs", "rsa_pss_rsae_sha256:rsa_pkcs1_sha256")
	if !r.upgraded {
		t.Fatalf("s_client with RSA signature algorithms was not served:\n%s", r.out)
	}
	if subj := r.line("subject="); !strings.Contains(subj, "O = RSA") {
		t.Fatalf("s_client with RSA signature algorithms got subject %q", subj)
	}

	// A certificate the handler names that cannot be found fails that
	// handshake only, with the store's error.
	h2 := env.start(t, func(s *Server) {
		s.Events.OnSSLConnectionRequest = func(e *SSLConnectionRequestEvent) { e.CertSubject = "CN=nobody" }
		s.Events.OnError = func(e *ErrorEvent) { ev.Add("error %d", e.ErrorCode) }
	})
	if _, err := wssDial(t, h2.url, env.client()); err == nil {
		t.Fatal("a handshake with a certificate that cannot be found succeeded")
	}
	ev.WaitFor(t, "error 272")
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCertStoreConstants_AreTheReferenceNumbers(t *testing.T) {
	for c, want := range map[int]string{
		CertStoreUser: "User", CertStoreMachine: "Machine", CertStorePFXFile: "PFXFile", CertStorePFXBlob: "PFXBlob",
		CertStoreJKSFile: "JKSFile", CertStoreJKSBlob: "JKSBlob", CertStorePEMKeyFile: "PEMKeyFile",
		CertStorePEMKeyBlob: "PEMKeyBlob", CertStorePublicKeyFile: "PublicKeyFile", CertStorePublicKeyBlob: "PublicKeyBlob",
		CertStoreSSHPublicKeyBlob: "SSHPublicKeyBlob", CertStoreP7BFile: "P7BFile", CertStoreP7BBlob: "P7BBlob",
		CertStoreSSHPublicKeyFile: "SSHPublicKeyFile", CertStorePPKFile: "PPKFile", CertStorePPKBlob: "PPKBlob",
		CertStoreXMLFile: "XMLFile", CertStoreXMLBlob: "XMLBlob", CertStoreJWKFile: "JWKFile", CertStoreJWKBlob: "JWKBlob",
		CertStoreSecurityKey: "SecurityKey", CertStoreBCFKSFile: "BCFKSFile", CertStoreBCFKSBlob: "BCFKSBlob",
		CertStorePKCS11: "PKCS11", CertStoreAuto: "Auto",
	} {
		if got := certstore.StoreType(c).String(); got != want {
			t.Errorf("constant %d is %s in certstore, want %s", c, got, want)
		}
	}
}

// mustECBytes is k's private scalar in its fixed-length encoding.
func mustECBytes(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
