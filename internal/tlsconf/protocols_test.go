package tlsconf

import (
	"crypto/tls"
	"strings"
	"testing"
)

func TestParseEnabledProtocols_SSLEnabledProtocols(t *testing.T) {
	// The reference's bits: TLS1.3=12288, TLS1.2=3072, TLS1.1=768, TLS1=192,
	// SSL3=48, SSL2=12; default 4032.
	for _, tc := range []struct {
		value    int
		min, max uint16
		errFrag  string
	}{
		{4032, tls.VersionTLS10, tls.VersionTLS12, ""},
		{DefaultEnabledProtocols, tls.VersionTLS10, tls.VersionTLS12, ""},
		{12288, tls.VersionTLS13, tls.VersionTLS13, ""},
		{12288 | 3072, tls.VersionTLS12, tls.VersionTLS13, ""},
		{3072, tls.VersionTLS12, tls.VersionTLS12, ""},
		{0x800, tls.VersionTLS12, tls.VersionTLS12, ""}, // one of TLS1.2's two bits
		{192, tls.VersionTLS10, tls.VersionTLS10, ""},
		{12288 | 3072 | 768 | 192, tls.VersionTLS10, tls.VersionTLS13, ""},
		{3072 | 48 | 12, tls.VersionTLS12, tls.VersionTLS12, ""}, // SSL bits ignored next to TLS
		{12288 | 192, 0, 0, "enables TLS1, TLS1.3 but not TLS1.1, TLS1.2"},
		{3072 | 192, 0, 0, "contiguous"},
		{48, 0, 0, "SSL 2.0 and SSL 3.0 are not supported"},
		{12, 0, 0, "SSL 2.0"},
		{0, 0, 0, "enables no protocol"},
		{0x10000, 0, 0, "unknown bits 0x10000"},
		{3, 0, 0, "unknown bits 0x3"},
	} {
		lo, hi, err := ParseEnabledProtocols(tc.value)
		if tc.errFrag != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errFrag) {
				t.Errorf("ParseEnabledProtocols(%d) error = %v, want %q", tc.value, err, tc.errFrag)
			}
			continue
		}
		if err != nil || lo != tc.min || hi != tc.max {
			t.Errorf("ParseEnabledProtocols(%d) = %x..%x, %v; want %x..%x", tc.value, lo, hi, err, tc.min, tc.max)
		}
	}
}

func TestEnabledProtocols_SSLEnabledProtocolsReadBack(t *testing.T) {
	for _, v := range []int{4032, 12288, 15360, 3072, 16320, 768 | 3072} {
		lo, hi, err := ParseEnabledProtocols(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := EnabledProtocols(lo, hi); got != v {
			t.Errorf("EnabledProtocols(round trip of %d) = %d", v, got)
		}
	}
	if got := EnabledProtocols(0, 0); got != ProtocolTLS12|ProtocolTLS13 {
		t.Errorf("EnabledProtocols(0, 0) = %d, want Go's default TLS1.2-1.3", got)
	}
}

func TestVersionName_SSLNegotiatedVersion(t *testing.T) {
	want := map[uint16]string{
		tls.VersionTLS10: "TLS1.0", tls.VersionTLS11: "TLS1.1", tls.VersionTLS12: "TLS1.2",
		tls.VersionTLS13: "TLS1.3", 0x0300: "SSL3", 0x7f1c: "0x7F1C",
	}
	for v, n := range want {
		if got := VersionName(v); got != n {
			t.Errorf("VersionName(%x) = %q, want %q", v, got, n)
		}
	}
}

func TestPredictVersion_MatchesHandshake(t *testing.T) {
	// PredictVersion must agree with what crypto/tls negotiates.
	cert, _ := serverCert(t, "ecdsa")
	for _, tc := range []struct{ srvMin, srvMax, cliMin, cliMax uint16 }{
		{tls.VersionTLS12, tls.VersionTLS13, tls.VersionTLS12, tls.VersionTLS13},
		{tls.VersionTLS10, tls.VersionTLS12, tls.VersionTLS10, tls.VersionTLS13},
		{tls.VersionTLS12, tls.VersionTLS13, tls.VersionTLS10, tls.VersionTLS12},
		{tls.VersionTLS13, tls.VersionTLS13, tls.VersionTLS12, tls.VersionTLS13},
	} {
		var predicted uint16
		var ok bool
		srv := &tls.Config{MinVersion: tc.srvMin, MaxVersion: tc.srvMax,
			GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
				predicted, ok = PredictVersion(h, tc.srvMin, tc.srvMax)
				return &cert, nil
			}}
		cli := &tls.Config{InsecureSkipVerify: true, MinVersion: tc.cliMin, MaxVersion: tc.cliMax}
		ss, _, err := handshake(t, srv, cli)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || predicted != ss.Version {
			t.Errorf("%+v: predicted %x (%v), negotiated %x", tc, predicted, ok, ss.Version)
		}
	}
	if _, ok := PredictVersion(&tls.ClientHelloInfo{SupportedVersions: []uint16{tls.VersionTLS11}}, 0, 0); ok {
		t.Error("TLS 1.1 client predicted to work with the default minimum")
	}
	if _, ok := PredictVersion(nil, 0, 0); ok {
		t.Error("nil hello")
	}
}
