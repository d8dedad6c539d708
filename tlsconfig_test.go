package wsserver

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/certstore/certtest"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of the SSL config settings: validated when set, applied by
// StartListening, seen by Go and openssl clients.

func TestSSLConfig_ValuesCheckedWhenSet(t *testing.T) {
	cases := []struct {
		setting string
		code    int // 0: accepted
		says    string
	}{
		{"SSLEnabledProtocols=12288", 0, ""},
		{"SSLEnabledProtocols=0x3C00", 0, ""},
		{"SSLEnabledProtocols=16320", 0, ""},
		{"SSLEnabledProtocols=4080", 0, ""}, // SSL3 next to TLS: ignored
		{"SSLEnabledProtocols=48", 302, "SSL 2.0 and SSL 3.0"},
		{"SSLEnabledProtocols=12", 302, "SSL 2.0 and SSL 3.0"},
		{"SSLEnabledProtocols=3264", 302, "contiguous"},
		{"SSLEnabledProtocols=0", 301, "no protocol"},
		{"SSLEnabledProtocols=1", 301, "unknown bits"},
		{"SSLEnabledProtocols=tls", 301, "or-ed"},
		{"SSLEnabledCipherSuites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0, ""},
		{"SSLEnabledCipherSuites=ECDHE-ECDSA-AES128-GCM-SHA256", 0, ""},
		{"SSLEnabledCipherSuites=TLS_DHE_DSS_WITH_AES_128_CBC_SHA", 302, "not implemented by Go"},
		{"SSLEnabledCipherSuites=CALG_AES_256", 302, "Platform"},
		{"SSLEnabledCipherSuites=TLS_NOPE", 301, "unknown"},
		{"OpenSSLCipherList=ECDHE+AESGCM:!SHA1", 0, ""},
		{"OpenSSLCipherList=HIGH:@STRENGTH", 0, ""},
		{"OpenSSLCipherList=NOPE", 301, "NOPE"},
		{"SSLCipherStrength=128", 0, ""},
		{"SSLCipherStrength=257", 301, "256"},
		{"SSLCipherStrength=-1", 301, ""},
		{"TLS12SupportedGroups=ecdhe_secp384r1", 0, ""},
		{"TLS12SupportedGroups=x25519mlkem768", 301, "TLS 1.3"},
		{"TLS12SupportedGroups=brainpool", 301, "unknown"},
		{"TLS13SupportedGroups=ecdhe_x25519,ffdhe_2048", 0, ""}, // ffdhe skipped, as in the default
		{"TLS13SupportedGroups=ffdhe_2048,ecdhe_x448", 302, "not implemented"},
		{"TLS13KeyShareGroups=ecdhe_x25519", 0, ""},
		{"TLS13KeyShareGroups=ffdhe_4096", 302, "not implemented"},
		{"TLS12SignatureAlgorithms=sha256-rsa,sha256-ecdsa", 0, ""},
		{"TLS12SignatureAlgorithms=sha256-dsa", 302, "not implemented"},
		{"TLS12SignatureAlgorithms=md2-rsa", 301, "unknown"},
		{"TLS13SignatureAlgorithms=ed25519", 0, ""},
		{"TLS13SignatureAlgorithms=ed448", 302, "not implemented"},
		{"SSLSecurityFlags=0x80000030", 0, ""},
		{"SSLSecurityFlags=1", 0, ""},
		{"SSLSecurityFlags=0x8", 301, "unknown bits"},
		{"SSLSecurityFlags=x", 301, ""},
		{"SSLCheckCRL=2", 0, ""},
		{"SSLCheckCRL=3", 301, ""},
		{"SSLCheckOCSP=1", 0, ""},
		{"SSLCheckOCSP=yes", 301, ""},
		{"SSLEnableRenegotiation=True", 0, ""},
		{"SSLEnableRenegotiation=False", 302, "never renegotiates"},
		{"OpenSSLPrngSeedData=", 0, ""},
		{"OpenSSLPrngSeedData=seed", 302, "cannot be seeded"},
		{"SSLServerCACerts=", 0, ""},
		{"SSLServerCACerts=-----BEGIN CERTIFICATE-----", 302, "does not apply to a server"},
		{"SSLCACerts=not a certificate", 301, "SSLCACerts"},
		{"OpenSSLCAFile=/nonexistent/ca.pem", 301, "OpenSSLCAFile"},
		{"OpenSSLCADir=/nonexistent", 301, "OpenSSLCADir"},
		{"SSLKeyLogFile=/nonexistent/keys.log", 301, "SSLKeyLogFile"},
		{"LogSSLPackets=yes", 0, ""},
		{"LogSSLPackets=maybe", 301, ""},
		{"ReuseSSLSession=False", 0, ""},
		{"SSLIncludeCertChain=1", 0, ""},
	}
	s := New()
	for _, c := range cases {
		name, value, _ := strings.Cut(c.setting, "=")
		before, err := s.Config(name)
		if err != nil {
			t.Fatalf("Config(%q): %v", name, err)
		}
		_, err = s.Config(c.setting)
		if c.code == 0 {
			if err != nil {
				t.Errorf("Config(%q): %v", c.setting, err)
			} else if got, _ := s.Config(name); got != value && !strings.HasSuffix(name, "Packets") && !strings.Contains(name, "Chain") {
				t.Errorf("%s reads %q after %q", name, got, c.setting)
			}
			continue
		}
		if wsErrCode(err) != c.code || !strings.Contains(errString(err), c.says) {
			t.Errorf("Config(%q) = %v, want %d saying %q", c.setting, err, c.code, c.says)
		}
		if after, _ := s.Config(name); after != before {
			t.Errorf("the refused %q changed %s from %q to %q", c.setting, name, before, after)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// tlsDial runs a bare TLS handshake with the server and returns the state.
func tlsDial(t *testing.T, addr string, conf *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	d := &net.Dialer{Timeout: waitLimit}
	c, err := tls.DialWithDialer(d, "tcp", addr, conf)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

func TestSSLEnabledProtocols_Applied(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	versions := func(lo, hi uint16) *tls.Config {
		c := env.client()
		c.MinVersion, c.MaxVersion = lo, hi
		return c
	}

	// The reference's default, 4032: TLS 1.0 to 1.2.
	h := env.start(t, nil)
	if cs, err := tlsDial(t, h.addr, env.client()); err != nil || cs.Version != tls.VersionTLS12 {
		t.Fatalf("default protocols: %v, version %x; want TLS 1.2", err, cs.Version)
	}
	if cs, err := tlsDial(t, h.addr, versions(tls.VersionTLS10, tls.VersionTLS10)); err != nil || cs.Version != tls.VersionTLS10 {
		t.Fatalf("TLS 1.0 client with the default protocols: %v", err)
	}
	if _, err := tlsDial(t, h.addr, versions(tls.VersionTLS13, tls.VersionTLS13)); err == nil {
		t.Fatal("a TLS 1.3 client was served with the default protocols (TLS 1.0-1.2)")
	}

	// TLS 1.3 only.
	h13 := env.start(t, func(s *Server) { setConfig(t, s, "SSLEnabledProtocols=12288") })
	_, cs, id := wssOpen(t, h13, env.client())
	if cs.Version != tls.VersionTLS13 {
		t.Fatalf("version %x, want TLS 1.3", cs.Version)
	}
	if v, _ := h13.s.Config("SSLNegotiatedVersion[" + strconv.Itoa(id) + "]"); v != "TLS1.3" {
		t.Fatalf("SSLNegotiatedVersion = %q", v)
	}
	if _, err := tlsDial(t, h13.addr, versions(tls.VersionTLS12, tls.VersionTLS12)); err == nil {
		t.Fatal("a TLS 1.2 client was served with SSLEnabledProtocols=12288")
	}

	// openssl s_client pinned to a version, against TLS 1.2 only.
	h12 := env.start(t, func(s *Server) { setConfig(t, s, "SSLEnabledProtocols=3072") })
	r := runSClient(t, h12.addr, "-tls1_2")
	if !r.upgraded || !strings.Contains(r.out, "New, TLSv1.2") {
		t.Fatalf("s_client -tls1_2 against TLS 1.2:\n%s", r.out)
	}
	// crypto/tls answers renegotiation_info (SSLEnableRenegotiation=True).
	if got := r.line("Secure Renegotiation"); got != "IS supported" {
		t.Fatalf("s_client: Secure Renegotiation %q", got)
	}
	if r := runSClient(t, h12.addr, "-tls1_3"); r.upgraded {
		t.Fatalf("s_client -tls1_3 was served by a TLS 1.2 only server:\n%s", r.out)
	}
}

func TestSSLCipherSuites_Applied(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	suites := func(ids ...uint16) *tls.Config {
		c := env.client()
		c.MaxVersion, c.CipherSuites = tls.VersionTLS12, ids
		return c
	}
	negotiated := func(h *harness, conf *tls.Config) (uint16, string) {
		t.Helper()
		_, cs, id := wssOpen(t, h, conf)
		strength, _ := h.s.Config("SSLNegotiatedCipherStrength[" + strconv.Itoa(id) + "]")
		return cs.CipherSuite, strength
	}

	h := env.start(t, func(s *Server) {
		setConfig(t, s, "SSLEnabledCipherSuites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
	})
	if id, strength := negotiated(h, suites()); id != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 || strength != "256" {
		t.Fatalf("negotiated %s (%s bits)", tls.CipherSuiteName(id), strength)
	}
	if _, err := tlsDial(t, h.addr, suites(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)); err == nil {
		t.Fatal("a suite SSLEnabledCipherSuites leaves out was negotiated")
	}
	if r := runSClient(t, h.addr, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"); r.upgraded {
		t.Fatalf("s_client with a suite left out was served:\n%s", r.out)
	}
	if r := runSClient(t, h.addr, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"); !r.upgraded ||
		!strings.Contains(r.out, "Cipher is ECDHE-ECDSA-AES256-GCM-SHA384") {
		t.Fatalf("s_client with the enabled suite:\n%s", r.out)
	}

	// OpenSSLCipherList, in OpenSSL's syntax.
	h = env.start(t, func(s *Server) { setConfig(t, s, "OpenSSLCipherList=ECDHE+CHACHA20:!RSA") })
	if id, _ := negotiated(h, suites()); id != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
		t.Fatalf("OpenSSLCipherList ECDHE+CHACHA20: negotiated %s", tls.CipherSuiteName(id))
	}

	// SSLCipherStrength: 256-bit bulk ciphers only.
	h = env.start(t, func(s *Server) { setConfig(t, s, "SSLCipherStrength=256") })
	if id, strength := negotiated(h, suites()); strength != "256" {
		t.Fatalf("SSLCipherStrength=256 negotiated %s (%s bits)", tls.CipherSuiteName(id), strength)
	}

	// Settings that leave no suite fail at StartListening.
	for _, settings := range [][]string{
		{"SSLEnabledCipherSuites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "OpenSSLCipherList=AES256"},
		{"SSLEnabledCipherSuites=TLS_AES_128_GCM_SHA256"}, // TLS 1.3 only, with TLS 1.0-1.2 enabled
		{"SSLEnabledCipherSuites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "SSLCipherStrength=256"},
	} {
		s := New()
		mustOK(t, s.SetSSLCertEncodedB(pemBlob(t, env.leaf)))
		mustOK(t, s.SetUseSSL(true))
		mustOK(t, s.SetLocalHost("127.0.0.1"))
		setConfig(t, s, settings...)
		err := s.StartListening()
		if err == nil {
			s.Shutdown()
			t.Fatalf("StartListening with %q succeeded", settings)
		}
		wantCode(t, strings.Join(settings, " "), err, ErrInvalidValue)
	}
}

func TestSSLCipherSuites_TLS13EnforcedAfterTheHandshake(t *testing.T) {
	// crypto/tls picks TLS 1.3 suites itself; a handshake that ends with a
	// suite SSLEnabledCipherSuites does not list, or weaker than
	// SSLCipherStrength, is refused.
	checkGoroutines(t)
	env := newTLSEnv(t)
	h := env.start(t, func(s *Server) {
		setConfig(t, s, "SSLEnabledProtocols=12288", "SSLEnabledCipherSuites=TLS_AES_256_GCM_SHA384;TLS_CHACHA20_POLY1305_SHA256")
	})
	if r := runSClient(t, h.addr, "-ciphersuites", "TLS_AES_256_GCM_SHA384"); !r.upgraded || !strings.Contains(r.out, "TLS_AES_256_GCM_SHA384") {
		t.Fatalf("s_client with an enabled TLS 1.3 suite:\n%s", r.out)
	}
	if r := runSClient(t, h.addr, "-ciphersuites", "TLS_AES_128_GCM_SHA256"); r.upgraded {
		t.Fatalf("s_client with TLS_AES_128_GCM_SHA256 was served:\n%s", r.out)
	}
	h = env.start(t, func(s *Server) { setConfig(t, s, "SSLEnabledProtocols=12288", "SSLCipherStrength=256") })
	if r := runSClient(t, h.addr, "-ciphersuites", "TLS_AES_128_GCM_SHA256"); r.upgraded {
		t.Fatalf("s_client with a 128-bit TLS 1.3 suite was served with SSLCipherStrength=256:\n%s", r.out)
	}
	if r := runSClient(t, h.addr, "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"); !r.upgraded {
		t.Fatalf("s_client with a 256-bit TLS 1.3 suite:\n%s", r.out)
	}
}

func TestSSLSupportedGroups_Applied(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	// The defaults (the reference's lists of all it supports) are crypto/tls's
	// defaults, post-quantum hybrid included.
	h0 := env.start(t, func(s *Server) { setConfig(t, s, "SSLEnabledProtocols=12288") })
	_, _, id0 := wssOpen(t, h0, env.client())
	if kx, _ := h0.s.Config("SSLNegotiatedKeyExchange[" + strconv.Itoa(id0) + "]"); kx != "X25519MLKEM768" {
		t.Fatalf("default groups with TLS 1.3: key exchange %q, want X25519MLKEM768", kx)
	}

	h := env.start(t, func(s *Server) { setConfig(t, s, "TLS12SupportedGroups=ecdhe_secp384r1") })
	_, _, id := wssOpen(t, h, env.client())
	key := "[" + strconv.Itoa(id) + "]"
	if kx, _ := h.s.Config("SSLNegotiatedKeyExchange" + key); kx != "ECDHE" {
		t.Fatalf("SSLNegotiatedKeyExchange = %q", kx)
	}
	if bits, _ := h.s.Config("SSLNegotiatedKeyExchangeStrength" + key); bits != "384" {
		t.Fatalf("TLS12SupportedGroups=ecdhe_secp384r1: key exchange strength %s", bits)
	}

	h = env.start(t, func(s *Server) {
		setConfig(t, s, "SSLEnabledProtocols=12288", "TLS13SupportedGroups=ecdhe_secp521r1")
	})
	_, _, id = wssOpen(t, h, env.client())
	key = "[" + strconv.Itoa(id) + "]"
	if kx, _ := h.s.Config("SSLNegotiatedKeyExchange" + key); kx != "ecdhe_secp521r1" {
		t.Fatalf("TLS13SupportedGroups=ecdhe_secp521r1: key exchange %q", kx)
	}
	// openssl offering only X25519 finds no common group.
	if r := runSClient(t, h.addr, "-groups", "X25519"); r.upgraded {
		t.Fatalf("s_client with X25519 only was served:\n%s", r.out)
	}
}

func TestSSLSignatureAlgorithms_Applied(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	// The server signs with an allowed algorithm: SHA-384 with a P-256 key
	// in TLS 1.2, where the curve does not bind the hash.
	h := env.start(t, func(s *Server) {
		setConfig(t, s, "SSLEnabledProtocols=3072", "TLS12SignatureAlgorithms=sha384-ecdsa")
	})
	r := runSClient(t, h.addr)
	if !r.upgraded || r.line("Peer signing digest:") != "SHA384" {
		t.Fatalf("TLS12SignatureAlgorithms=sha384-ecdsa: signing digest %q\n%s", r.line("Peer signing digest:"), r.out)
	}
	// The defaults allow what Go supports: an Ed25519 certificate in TLS 1.2.
	ed := certtest.NewLeaf(t, env.ca, "server.test", certtest.Ed25519)
	h = env.start(t, func(s *Server) { mustOK(t, s.SetSSLCertEncodedB(pemBlob(t, ed))) })
	if _, cs, _ := wssOpen(t, h, env.client()); cs.Version != tls.VersionTLS12 || !cs.PeerCertificates[0].Equal(ed.Cert) {
		t.Fatalf("Ed25519 certificate: version %x", cs.Version)
	}
	// A certificate whose key no allowed algorithm fits fails at once.
	for _, settings := range [][]string{
		{"SSLEnabledProtocols=3072", "TLS12SignatureAlgorithms=sha256-rsa"},
		{"SSLEnabledProtocols=12288", "TLS13SignatureAlgorithms=ecdsa_secp384r1_sha384"},
	} {
		s := New()
		mustOK(t, s.SetSSLCertEncodedB(pemBlob(t, env.leaf)))
		mustOK(t, s.SetUseSSL(true))
		mustOK(t, s.SetLocalHost("127.0.0.1"))
		setConfig(t, s, settings...)
		err := s.StartListening()
		if err == nil {
			s.Shutdown()
			t.Fatalf("StartListening with %q succeeded", settings)
		}
		setting, _, _ := strings.Cut(settings[1], "=")
		wantSSLError(t, settings[1], err, 301, setting, "CN=server.test")
	}
}

func TestSSLNegotiated_PerConnection(t *testing.T) {
	// Reference: "a per-connection setting accessed by passing the
	// ConnectionId", Config("SSLNegotiatedCipher[connId]").
	checkGoroutines(t)
	env := newTLSEnv(t)
	get := func(h *harness, name string, id int) string {
		t.Helper()
		v, err := h.s.Config(name + "[" + strconv.Itoa(id) + "]")
		if err != nil {
			t.Fatalf("%s[%d]: %v", name, id, err)
		}
		return v
	}
	// TLS 1.3 with X25519.
	h := env.start(t, func(s *Server) { setConfig(t, s, "SSLEnabledProtocols=12288") })
	conf := env.client()
	conf.CurvePreferences = []tls.CurveID{tls.X25519}
	_, cs, id := wssOpen(t, h, conf)
	want := map[string]string{
		"SSLNegotiatedVersion":             "TLS1.3",
		"SSLNegotiatedCipherSuite":         tls.CipherSuiteName(cs.CipherSuite),
		"SSLNegotiatedKeyExchange":         "ecdhe_x25519",
		"SSLNegotiatedKeyExchangeStrength": "253",
	}
	switch cs.CipherSuite {
	case tls.TLS_AES_128_GCM_SHA256:
		want["SSLNegotiatedCipher"], want["SSLNegotiatedCipherStrength"] = "AES_128_GCM", "128"
	case tls.TLS_AES_256_GCM_SHA384:
		want["SSLNegotiatedCipher"], want["SSLNegotiatedCipherStrength"] = "AES_256_GCM", "256"
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		want["SSLNegotiatedCipher"], want["SSLNegotiatedCipherStrength"] = "CHACHA20_POLY1305", "256"
	}
	for name, v := range want {
		if got := get(h, name, id); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}

	// TLS 1.2 with RSA key exchange: the strength is the server key's size.
	rsaLeaf := certtest.NewLeaf(t, env.ca, "server.test", certtest.RSA)
	h = env.start(t, func(s *Server) {
		mustOK(t, s.SetSSLCertEncodedB(pemBlob(t, rsaLeaf)))
		setConfig(t, s, "SSLEnabledCipherSuites=TLS_RSA_WITH_AES_128_GCM_SHA256")
	})
	rsaKX := env.client()
	rsaKX.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256} // Go clients offer RSA key exchange only when told
	_, _, id = wssOpen(t, h, rsaKX)
	for name, v := range map[string]string{
		"SSLNegotiatedVersion": "TLS1.2", "SSLNegotiatedCipherSuite": "TLS_RSA_WITH_AES_128_GCM_SHA256",
		"SSLNegotiatedCipher": "AES_128_GCM", "SSLNegotiatedCipherStrength": "128",
		"SSLNegotiatedKeyExchange": "RSA", "SSLNegotiatedKeyExchangeStrength": "2048",
	} {
		if got := get(h, name, id); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}

	// A plaintext connection has none; the name alone needs an ID.
	plain := newHarness(t, nil)
	_, pid := plain.dial(t, "/", nil)
	if got := get(plain, "SSLNegotiatedVersion", pid); got != "" {
		t.Fatalf("SSLNegotiatedVersion of a plaintext connection = %q", got)
	}
	wantCode(t, "SSLNegotiatedVersion without an ID", configErr(plain.s, "SSLNegotiatedVersion"), ErrInvalidValue)
}

func TestReuseSSLSession_SessionTickets(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	for _, c := range []struct {
		settings []string
		resume   bool
	}{
		{[]string{"SSLEnabledProtocols=3072"}, true},
		{[]string{"SSLEnabledProtocols=12288"}, true},
		{[]string{"SSLEnabledProtocols=3072", "ReuseSSLSession=False"}, false},
		{[]string{"SSLEnabledProtocols=12288", "ReuseSSLSession=False"}, false},
	} {
		h := env.start(t, func(s *Server) { setConfig(t, s, c.settings...) })
		conf := env.client()
		conf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		first, cs, _ := wssOpen(t, h, conf)
		if cs.DidResume {
			t.Fatal("the first connection resumed")
		}
		first.Close()
		_, cs, _ = wssOpen(t, h, conf)
		if cs.DidResume != c.resume {
			t.Errorf("%q: second connection resumed %v, want %v", c.settings, cs.DidResume, c.resume)
		}
	}
}

func TestSSLKeyLogFile_Appends(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	file := writeTemp(t, t.TempDir(), "keys.log", []byte("# earlier secrets\n"))
	h := env.start(t, func(s *Server) { setConfig(t, s, "SSLEnabledProtocols=15360", "SSLKeyLogFile="+file) })
	conf := env.client()
	conf.MaxVersion = tls.VersionTLS12
	wssOpen(t, h, conf)
	wssOpen(t, h, env.client()) // TLS 1.3
	b := string(readFile(t, file))
	for _, want := range []string{"# earlier secrets\n", "CLIENT_RANDOM ", "CLIENT_HANDSHAKE_TRAFFIC_SECRET ", "SERVER_TRAFFIC_SECRET_0 "} {
		if !strings.Contains(b, want) {
			t.Errorf("the key log lacks %q:\n%s", want, b)
		}
	}
	// A file the setting creates is readable by its owner only.
	created := t.TempDir() + "/new.log"
	setConfig(t, New(), "SSLKeyLogFile="+created)
	if fi, err := os.Stat(created); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("created key log: %v, mode %v", err, fi.Mode())
	}
}

func TestLogSSLPackets_RecordsInSSLStatus(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	ev := wiretest.NewRecorder()
	h := env.start(t, func(s *Server) {
		setConfig(t, s, "SSLEnabledProtocols=15360", "LogSSLPackets=True", "BufferMessage=True")
		s.Events.OnSSLStatus = func(e *SSLStatusEvent) { ev.Add("%d %s", e.ConnectionID, e.Message) }
		s.Events.OnDataIn = func(e *DataInEvent) { s.SendText(e.ConnectionID, e.Text()) }
	})
	conn, _, id := wssOpen(t, h, env.client())
	conn.WriteMessage(websocket.TextMessage, []byte("hello"))
	readMessage(t, conn)
	p := strconv.Itoa(id) + " "
	for _, want := range []string{
		p + "Received TLS record: Handshake (ClientHello), record version TLS1.",
		p + "Sent TLS record: Handshake (ServerHello), record version TLS1.2",
		p + "Sent TLS record: ChangeCipherSpec",
		p + "Received TLS record: ApplicationData, record version TLS1.2",
		p + "Sent TLS record: ApplicationData, record version TLS1.2",
		p + "TLS handshake complete: TLS1.3",
	} {
		ev.WaitMatch(t, want, func(s string) bool { return strings.HasPrefix(s, want) })
	}

	// Off (the default), only the handshake's progress is reported.
	ev2 := wiretest.NewRecorder()
	h2 := env.start(t, func(s *Server) {
		s.Events.OnSSLStatus = func(e *SSLStatusEvent) { ev2.Add("%s", e.Message) }
	})
	wssOpen(t, h2, env.client())
	ev2.WaitPrefix(t, "TLS handshake complete: TLS1.2")
	for _, m := range ev2.Snapshot() {
		if strings.Contains(m, "TLS record") {
			t.Fatalf("a TLS record reported with LogSSLPackets off: %q", m)
		}
	}
}

func TestDefaultConnectionTimeout_StalledHandshakeCutOff(t *testing.T) {
	// Reference: DefaultConnectionTimeout is "the inactivity of the
	// connecting client during the handshake". A client that stops half way
	// through its ClientHello is cut off; others are served meanwhile.
	checkGoroutines(t)
	env := newTLSEnv(t)
	ev := wiretest.NewRecorder()
	h := env.start(t, func(s *Server) {
		setConfig(t, s, "DefaultConnectionTimeout=1", "HandshakeTimeout=120", "BufferMessage=True")
		s.Events.OnSSLStatus = func(e *SSLStatusEvent) { ev.Add("%d %s", e.ConnectionID, e.Message) }
		s.Events.OnDataIn = func(e *DataInEvent) { s.SendText(e.ConnectionID, e.Text()) }
	})
	stalled, err := net.DialTimeout("tcp", h.addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.Write([]byte{22, 3, 1, 0, 200, 1}) // a handshake record header (type 22) and one byte of 200
	ev.WaitMatch(t, "the stalled handshake starts", func(s string) bool { return strings.Contains(s, "TLS handshake started") })

	conn, _, _ := wssOpen(t, h, env.client())
	conn.WriteMessage(websocket.TextMessage, []byte("served while another stalls"))
	if _, p := readMessage(t, conn); string(p) != "served while another stalls" {
		t.Fatalf("echo %q", p)
	}

	ev.WaitMatch(t, "the stalled client cut off", func(s string) bool {
		return strings.Contains(s, "TLS handshake failed: the client sent nothing for 1s (DefaultConnectionTimeout)")
	})
	stalled.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := bufio.NewReader(stalled).ReadByte(); err == nil {
		t.Fatal("the stalled client's connection is still open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the stalled client's connection is still open")
	}
}

func TestTLSConfig_ServedThroughNetHTTP(t *testing.T) {
	// TLSConfig gives net/http the configuration UseSSL would use; the
	// upgrade then reaches ServeHTTP over TLS.
	checkGoroutines(t)
	env := newTLSEnv(t)
	ev := wiretest.NewRecorder()
	s := New()
	mustOK(t, s.SetSSLCertEncodedB(pemBlob(t, env.leaf)))
	setConfig(t, s, "SSLEnabledProtocols=12288", "BufferMessage=True")
	s.Events.OnSSLStatus = func(e *SSLStatusEvent) { ev.Add("%d %s", e.ConnectionID, e.Message) }
	s.Events.OnDataIn = func(e *DataInEvent) { s.SendText(e.ConnectionID, e.Text()) }
	ids := make(chan int, 1)
	s.Events.OnConnected = func(e *ConnectedEvent) { ids <- e.ConnectionID }
	conf, err := s.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, s.SetLocalHost("127.0.0.1"))
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: waitLimit}
	go srv.Serve(tls.NewListener(ln, conf))
	t.Cleanup(func() { srv.Close(); s.Shutdown() })

	conn, err := wssDial(t, "wss://"+ln.Addr().String()+"/", env.client())
	if err != nil {
		t.Fatalf("wss through net/http: %v", err)
	}
	id := wiretest.Receive(t, ids, "Connected")
	conn.WriteMessage(websocket.TextMessage, []byte("via net/http"))
	if _, p := readMessage(t, conn); string(p) != "via net/http" {
		t.Fatalf("echo %q", p)
	}
	if v, _ := s.Config("SSLNegotiatedVersion[" + strconv.Itoa(id) + "]"); v != "TLS1.3" {
		t.Fatalf("SSLNegotiatedVersion = %q", v)
	}
	ev.WaitPrefix(t, "0 ClientHello: versions")
	conn.Close()
	wiretest.WaitUntil(t, "the connection ends", func() bool { return s.ConnectionCount() == 0 })
}
