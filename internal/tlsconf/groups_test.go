package tlsconf

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
)

func TestParseSupportedGroups_TLS12AndTLS13SupportedGroups(t *testing.T) {
	// The reference's defaults parse; x448 and ffdhe_* are skipped.
	g, skipped, err := ParseTLS13SupportedGroups("ecdhe_x25519,ecdhe_x448,ecdhe_secp256r1,ecdhe_secp384r1,ecdhe_secp521r1,ffdhe_2048,ffdhe_3072,ffdhe_4096,ffdhe_6144,ffdhe_8192")
	if err != nil || !slices.Equal(g, []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}) ||
		!slices.Equal(skipped, []string{"ecdhe_x448", "ffdhe_2048", "ffdhe_3072", "ffdhe_4096", "ffdhe_6144", "ffdhe_8192"}) {
		t.Errorf("TLS13 default: %v %v %v", g, skipped, err)
	}
	g, skipped, err = ParseTLS12SupportedGroups("ecdhe_secp256r1,ecdhe_secp384r1,ecdhe_secp521r1")
	if err != nil || len(skipped) != 0 || !slices.Equal(g, []tls.CurveID{tls.CurveP256, tls.CurveP384, tls.CurveP521}) {
		t.Errorf("TLS12 default: %v %v %v", g, skipped, err)
	}
	g, _, err = ParseTLS13KeyShareGroups("ecdhe_x25519,ecdhe_secp256r1,ecdhe_secp384r1,ffdhe_2048,ffdhe_3072")
	if err != nil || len(g) != 3 {
		t.Errorf("TLS13KeyShareGroups default: %v %v", g, err)
	}
	// Case, spaces, duplicates, the hybrid extension.
	g, _, err = ParseTLS13SupportedGroups(" ECDHE_X25519 , X25519MLKEM768,ecdhe_x25519")
	if err != nil || !slices.Equal(g, []tls.CurveID{tls.X25519, tls.X25519MLKEM768}) {
		t.Errorf("got %v %v", g, err)
	}
	if g, s, err := ParseTLS13SupportedGroups(""); g != nil || s != nil || err != nil {
		t.Error("empty value must give the default (nil)")
	}
	for _, tc := range []struct {
		fn   func(string) ([]tls.CurveID, []string, error)
		v    string
		frag string
	}{
		{ParseTLS13SupportedGroups, "ecdhe_x448,ffdhe_2048", "TLS13SupportedGroups: ecdhe_x448, ffdhe_2048 are not implemented by Go's crypto/tls"},
		{ParseTLS13SupportedGroups, "ffdhe_4096", "ffdhe_4096 is not implemented"},
		{ParseTLS13SupportedGroups, "ecdhe_secp256k1", "unknown groups: ecdhe_secp256k1"},
		{ParseTLS12SupportedGroups, "ecdhe_secp256r1,x25519mlkem768", "can only be used with TLS 1.3"},
		{ParseTLS13KeyShareGroups, "foo", "TLS13KeyShareGroups: unknown groups: foo"},
	} {
		if _, _, err := tc.fn(tc.v); err == nil || !strings.Contains(err.Error(), tc.frag) {
			t.Errorf("%q: %v, want %q", tc.v, err, tc.frag)
		}
	}
}

func TestCurvePreferences_OneListForBothVersions(t *testing.T) {
	p384 := []tls.CurveID{tls.CurveP384}
	x := []tls.CurveID{tls.X25519}
	if got := CurvePreferences(nil, nil, 0, 0); got != nil {
		t.Errorf("both nil = %v", got)
	}
	if got := CurvePreferences(p384, x, tls.VersionTLS10, tls.VersionTLS12); !slices.Equal(got, p384) {
		t.Errorf("TLS <= 1.2 only = %v", got)
	}
	if got := CurvePreferences(p384, x, tls.VersionTLS13, tls.VersionTLS13); !slices.Equal(got, x) {
		t.Errorf("TLS 1.3 only = %v", got)
	}
	if got := CurvePreferences(p384, x, tls.VersionTLS12, tls.VersionTLS13); !slices.Equal(got, []tls.CurveID{tls.X25519, tls.CurveP384}) {
		t.Errorf("both = %v", got)
	}
	if got := CurvePreferences(p384, nil, 0, 0); !slices.Contains(got, tls.X25519MLKEM768) || !slices.Contains(got, tls.CurveP384) {
		t.Errorf("TLS13 default kept = %v", got)
	}

	// The result drives a real handshake: only P-384 is possible.
	cert, _ := serverCert(t, "ecdsa")
	srv := &tls.Config{Certificates: []tls.Certificate{cert}, CurvePreferences: CurvePreferences(p384, p384, 0, 0)}
	ss, _, err := handshake(t, srv, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if ss.CurveID != tls.CurveP384 || NegotiatedKeyExchange(ss) != "ecdhe_secp384r1" || NegotiatedKeyExchangeStrength(ss, nil) != 384 {
		t.Errorf("negotiated %v %q %d", ss.CurveID, NegotiatedKeyExchange(ss), NegotiatedKeyExchangeStrength(ss, nil))
	}
}

func TestGroupName(t *testing.T) {
	for id, n := range map[tls.CurveID]string{
		tls.X25519: "ecdhe_x25519", tls.CurveP256: "ecdhe_secp256r1", tls.CurveP384: "ecdhe_secp384r1",
		tls.CurveP521: "ecdhe_secp521r1", tls.X25519MLKEM768: "X25519MLKEM768", tls.SecP256r1MLKEM768: "SecP256r1MLKEM768",
		tls.SecP384r1MLKEM1024: "SecP384r1MLKEM1024", 30: "ecdhe_x448", 256: "ffdhe_2048", 0x2a2a: "GREASE", 0x1234: "0x1234",
	} {
		if got := GroupName(id); got != n {
			t.Errorf("GroupName(%d) = %q, want %q", id, got, n)
		}
	}
}
