package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

func TestParseSignatureAlgorithms_TLS12AndTLS13(t *testing.T) {
	// The reference's TLS12 default: dsa and sha224 are skipped.
	s, skipped, err := ParseTLS12SignatureAlgorithms("sha512-ecdsa,sha512-rsa,sha512-dsa,sha384-ecdsa,sha384-rsa,sha384-dsa,sha256-ecdsa,sha256-rsa,sha256-dsa,sha224-ecdsa,sha224-rsa,sha224-dsa,sha1-ecdsa,sha1-rsa,sha1-dsa")
	want := []tls.SignatureScheme{tls.ECDSAWithP521AndSHA512, tls.PKCS1WithSHA512, tls.ECDSAWithP384AndSHA384, tls.PKCS1WithSHA384,
		tls.ECDSAWithP256AndSHA256, tls.PKCS1WithSHA256, tls.ECDSAWithSHA1, tls.PKCS1WithSHA1}
	if err != nil || !slices.Equal(s, want) || len(skipped) != 7 {
		t.Errorf("TLS12 default: %v %v %v", s, skipped, err)
	}
	// The reference's TLS13 default: ed448 is skipped.
	s, skipped, err = ParseTLS13SignatureAlgorithms("rsa_pss_sha256,rsa_pss_sha384,rsa_pss_sha512,rsa_pkcs1_sha256,rsa_pkcs1_sha384,rsa_pkcs1_sha512,ecdsa_secp256r1_sha256,ecdsa_secp384r1_sha384,ecdsa_secp521r1_sha512,ed25519,ed448")
	if err != nil || len(s) != 10 || !slices.Equal(skipped, []string{"ed448"}) {
		t.Errorf("TLS13 default: %v %v %v", s, skipped, err)
	}
	// TLS 1.3 names are accepted in the TLS 1.2 setting (RSA-PSS in TLS 1.2).
	s, _, err = ParseTLS12SignatureAlgorithms("rsa_pss_sha256, SHA256-RSA")
	if err != nil || !slices.Equal(s, []tls.SignatureScheme{tls.PSSWithSHA256, tls.PKCS1WithSHA256}) {
		t.Errorf("mixed: %v %v", s, err)
	}
	if s, _, err := ParseTLS12SignatureAlgorithms(""); s != nil || err != nil {
		t.Error("empty TLS12 value must mean no restriction")
	}
	for _, tc := range []struct {
		fn   func(string) ([]tls.SignatureScheme, []string, error)
		v    string
		frag string
	}{
		{ParseTLS12SignatureAlgorithms, "sha256-dsa,sha224-rsa", "sha256-dsa, sha224-rsa are not implemented"},
		{ParseTLS13SignatureAlgorithms, "ed448", "TLS13SignatureAlgorithms: ed448 is not implemented"},
		{ParseTLS13SignatureAlgorithms, "sha256-rsa", "unknown signature algorithms: sha256-rsa"},
		{ParseTLS12SignatureAlgorithms, "sha256-foo", "unknown"},
	} {
		if _, _, err := tc.fn(tc.v); err == nil || !strings.Contains(err.Error(), tc.frag) {
			t.Errorf("%q: %v, want %q", tc.v, err, tc.frag)
		}
	}
}

func TestSignaturePolicy_RestrictServerSignatures(t *testing.T) {
	rsaCert, _ := serverCert(t, certtest.RSA)
	ecCert, _ := serverCert(t, certtest.ECDSA)
	edCert, _ := serverCert(t, certtest.Ed25519)
	p := SignaturePolicy{
		TLS12: []tls.SignatureScheme{tls.PKCS1WithSHA256, tls.ECDSAWithP384AndSHA384},
		TLS13: []tls.SignatureScheme{tls.PKCS1WithSHA256, tls.PSSWithSHA384, tls.Ed25519},
	}
	c, err := p.Restrict(&rsaCert, tls.VersionTLS12)
	if err != nil || !slices.Equal(c.SupportedSignatureAlgorithms, []tls.SignatureScheme{tls.PKCS1WithSHA256}) || c == &rsaCert {
		t.Errorf("RSA TLS1.2: %v %v", c, err)
	}
	// In TLS 1.3 RSA signs with PSS only.
	if c, err = p.Restrict(&rsaCert, tls.VersionTLS13); err != nil || !slices.Equal(c.SupportedSignatureAlgorithms, []tls.SignatureScheme{tls.PSSWithSHA384}) {
		t.Errorf("RSA TLS1.3: %v %v", c, err)
	}
	// TLS 1.2 ECDSA schemes do not bind the curve.
	if c, err = p.Restrict(&ecCert, tls.VersionTLS12); err != nil || !slices.Equal(c.SupportedSignatureAlgorithms, []tls.SignatureScheme{tls.ECDSAWithP384AndSHA384}) {
		t.Errorf("ECDSA TLS1.2: %v %v", c, err)
	}
	if _, err = p.Restrict(&ecCert, tls.VersionTLS13); err == nil || !strings.Contains(err.Error(), "ECDSA P-256 key cannot sign with any allowed algorithm in TLS1.3") {
		t.Errorf("ECDSA TLS1.3: %v", err)
	}
	if _, err = p.Restrict(&edCert, tls.VersionTLS12); err == nil || !strings.Contains(err.Error(), "TLS12SignatureAlgorithms") {
		t.Errorf("Ed25519 TLS1.2: %v", err)
	}
	if c, _ := (SignaturePolicy{}).Restrict(&rsaCert, tls.VersionTLS13); c != &rsaCert {
		t.Error("no policy must return the certificate itself")
	}
	noLeaf := rsaCert
	noLeaf.Leaf = nil
	if c, err := p.Restrict(&noLeaf, tls.VersionTLS12); err != nil || len(c.SupportedSignatureAlgorithms) != 1 {
		t.Errorf("without Leaf: %v", err)
	}

	// crypto/tls honours the restriction: a TLS 1.2 server limited to
	// rsa_pkcs1_sha1 cannot complete a handshake with a Go client, which
	// refuses SHA-1 signatures (RFC 9155); limited to rsa_pss_sha256 it can.
	for _, tc := range []struct {
		scheme tls.SignatureScheme
		ok     bool
	}{{tls.PKCS1WithSHA1, false}, {tls.PSSWithSHA256, true}} {
		pol := SignaturePolicy{TLS12: []tls.SignatureScheme{tc.scheme}}
		srv := &tls.Config{MaxVersion: tls.VersionTLS12, GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			v, _ := PredictVersion(h, 0, tls.VersionTLS12)
			return pol.Restrict(&rsaCert, v)
		}}
		_, _, err := handshake(t, srv, &tls.Config{InsecureSkipVerify: true})
		if (err == nil) != tc.ok {
			t.Errorf("%v: handshake error %v, want ok=%v", tc.scheme, err, tc.ok)
		}
	}
}

func TestSignaturePolicy_CheckPeerCertificate(t *testing.T) {
	ca := certtest.NewCA(t, "sig CA") // ECDSA P-256: signs with ECDSA-SHA256
	leaf := certtest.NewLeaf(t, ca, "client.example", certtest.RSA)
	cs := tls.ConnectionState{Version: tls.VersionTLS13, PeerCertificates: []*x509.Certificate{leaf.Cert}}
	p := SignaturePolicy{TLS13: []tls.SignatureScheme{tls.PSSWithSHA256}}
	if err := p.CheckPeerCertificate(cs); err == nil || !strings.Contains(err.Error(), "signature algorithm ECDSA-SHA256 is not allowed") {
		t.Errorf("got %v", err)
	}
	p.TLS13 = append(p.TLS13, tls.ECDSAWithP256AndSHA256)
	if err := p.CheckPeerCertificate(cs); err != nil {
		t.Error(err)
	}
	cs.Version = tls.VersionTLS12 // no TLS 1.2 list: no restriction
	if err := p.CheckPeerCertificate(cs); err != nil {
		t.Error(err)
	}
	if err := p.CheckPeerCertificate(tls.ConnectionState{Version: tls.VersionTLS13}); err != nil {
		t.Error("no peer certificate")
	}
	for a, s := range map[x509.SignatureAlgorithm]tls.SignatureScheme{
		x509.SHA256WithRSA: tls.PKCS1WithSHA256, x509.SHA384WithRSAPSS: tls.PSSWithSHA384, x509.PureEd25519: tls.Ed25519,
		x509.ECDSAWithSHA512: tls.ECDSAWithP521AndSHA512, x509.SHA1WithRSA: tls.PKCS1WithSHA1,
	} {
		if got, ok := certSigScheme(a); !ok || got != s {
			t.Errorf("certSigScheme(%v) = %v", a, got)
		}
	}
	if _, ok := certSigScheme(x509.MD5WithRSA); ok {
		t.Error("MD5 mapped")
	}
}

func TestSignatureSchemeName(t *testing.T) {
	for s, n := range map[tls.SignatureScheme]string{
		tls.PSSWithSHA256: "rsa_pss_sha256", tls.ECDSAWithP384AndSHA384: "ecdsa_secp384r1_sha384", tls.Ed25519: "ed25519",
		tls.PKCS1WithSHA1: "rsa_pkcs1_sha1", 0x0808: "ed448", 0x0809: "rsa_pss_pss_sha256", 0x0402: "dsa_sha256",
		0x0905: "mldsa65", 0x3a3a: "GREASE", 0x0777: "0x0777",
	} {
		if got := SignatureSchemeName(s); got != n {
			t.Errorf("SignatureSchemeName(%04x) = %q, want %q", uint16(s), got, n)
		}
	}
	// Every name the parser accepts round-trips through SignatureSchemeName
	// to an accepted name.
	for name, s := range tls13SigNames {
		if _, ok := tls13SigNames[SignatureSchemeName(s)]; !ok {
			t.Errorf("%s -> %q not parseable", name, SignatureSchemeName(s))
		}
	}
}
