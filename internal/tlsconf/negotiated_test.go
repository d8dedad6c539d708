package tlsconf

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

func TestNegotiated_SSLNegotiatedSettings(t *testing.T) {
	// SSLNegotiatedCipher, ...CipherStrength, ...CipherSuite,
	// ...KeyExchange, ...KeyExchangeStrength and ...Version read from real
	// handshakes.
	rsaCert, _ := serverCert(t, certtest.RSA)
	for _, tc := range []struct {
		name   string
		suite  uint16
		curves []tls.CurveID
		maxV   uint16
		want   Negotiated
	}{
		{"TLS1.2 ECDHE AES-256-CBC P-256", tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, []tls.CurveID{tls.CurveP256}, tls.VersionTLS12,
			Negotiated{"AES_256_CBC", 256, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE", 256, "TLS1.2"}},
		{"TLS1.2 ECDHE ChaCha20 X25519", tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, []tls.CurveID{tls.X25519}, tls.VersionTLS12,
			Negotiated{"CHACHA20_POLY1305", 256, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE", 253, "TLS1.2"}},
		{"TLS1.2 RSA key exchange", tls.TLS_RSA_WITH_AES_128_GCM_SHA256, nil, tls.VersionTLS12,
			Negotiated{"AES_128_GCM", 128, "TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", 2048, "TLS1.2"}},
		{"TLS1.2 3DES", tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, []tls.CurveID{tls.CurveP521}, tls.VersionTLS12,
			Negotiated{"3DES_EDE_CBC", 112, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE", 521, "TLS1.2"}},
		{"TLS1.3 X25519MLKEM768", 0, []tls.CurveID{tls.X25519MLKEM768}, tls.VersionTLS13,
			Negotiated{"", 0, "", "X25519MLKEM768", 768, "TLS1.3"}},
		{"TLS1.3 P-384", 0, []tls.CurveID{tls.CurveP384}, tls.VersionTLS13,
			Negotiated{"", 0, "", "ecdhe_secp384r1", 384, "TLS1.3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &tls.Config{Certificates: []tls.Certificate{rsaCert}, MaxVersion: tc.maxV, CurvePreferences: tc.curves}
			cli := &tls.Config{InsecureSkipVerify: true, MaxVersion: tc.maxV}
			if tc.suite != 0 {
				srv.CipherSuites = []uint16{tc.suite}
				cli.CipherSuites = []uint16{tc.suite}
			}
			ss, _, err := handshake(t, srv, cli)
			if err != nil {
				t.Fatal(err)
			}
			got := Describe(ss, rsaCert.Leaf)
			if tc.suite == 0 { // TLS 1.3: crypto/tls picks the suite
				tc.want.CipherSuite = tls.CipherSuiteName(ss.CipherSuite)
				tc.want.Cipher = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(tc.want.CipherSuite, "TLS_"), "_SHA256"), "_SHA384")
				tc.want.CipherStrength = map[bool]int{true: 128, false: 256}[tc.want.Cipher == "AES_128_GCM"]
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	// RSA key exchange strength needs the server certificate.
	if n := NegotiatedKeyExchangeStrength(tls.ConnectionState{CipherSuite: tls.TLS_RSA_WITH_AES_128_GCM_SHA256}, nil); n != 0 {
		t.Errorf("without the certificate: %d", n)
	}
	if NegotiatedCipher(tls.ConnectionState{CipherSuite: 0x0033}) != "" || NegotiatedKeyExchange(tls.ConnectionState{Version: tls.VersionTLS13}) != "" {
		t.Error("unknown suite / no group")
	}
	if NegotiatedKeyExchange(tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: 0x0033}) != "" {
		t.Error("unknown TLS1.2 suite")
	}
	if NegotiatedKeyExchangeStrength(tls.ConnectionState{CurveID: 30}, nil) != 0 {
		t.Error("x448 strength")
	}
}

func TestDescribeClientHello_SSLConnectionRequest(t *testing.T) {
	// SupportedCipherSuites and SupportedSignatureAlgs are comma-separated
	// lists from the ClientHello.
	cert, _ := serverCert(t, certtest.ECDSA)
	var suites, sigs string
	srv := &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		suites, sigs = DescribeClientHello(h)
		return &cert, nil
	}}
	cli := &tls.Config{InsecureSkipVerify: true, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_CBC_SHA}}
	if _, _, err := handshake(t, srv, cli); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TLS_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA"} {
		if !strings.Contains(suites, want) {
			t.Errorf("SupportedCipherSuites %q lacks %s", suites, want)
		}
	}
	for _, want := range []string{"ecdsa_secp256r1_sha256", "rsa_pss_sha256", "ed25519", "rsa_pkcs1_sha256"} {
		if !strings.Contains(sigs, want) {
			t.Errorf("SupportedSignatureAlgs %q lacks %s", sigs, want)
		}
	}
	if strings.Contains(suites, " ") || strings.Contains(sigs, " ") {
		t.Error("lists must be comma-separated without spaces")
	}
	// GREASE is left out; unknown values are in hex; other suites by name.
	s, a := DescribeClientHello(&tls.ClientHelloInfo{
		CipherSuites:     []uint16{0x1a1a, 0x009e, 0xc02f, 0xabcd},
		SignatureSchemes: []tls.SignatureScheme{0x2a2a, tls.PSSWithSHA256, 0x0808},
	})
	if s != "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,0xABCD" || a != "rsa_pss_sha256,ed448" {
		t.Errorf("got %q / %q", s, a)
	}
	if s, a := DescribeClientHello(nil); s != "" || a != "" {
		t.Error("nil hello")
	}
}
