package tlsconf

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
)

func TestSuiteTable_MatchesCryptoTLS(t *testing.T) {
	// The table must list exactly the suites crypto/tls implements, under
	// crypto/tls's names, and mark its default (secure) list.
	var goIDs []uint16
	secure := map[uint16]bool{}
	for _, s := range tls.CipherSuites() {
		goIDs = append(goIDs, s.ID)
		secure[s.ID] = true
	}
	for _, s := range tls.InsecureCipherSuites() {
		goIDs = append(goIDs, s.ID)
	}
	if len(goIDs) != len(goSuites) {
		t.Errorf("table has %d suites, crypto/tls %d", len(goSuites), len(goIDs))
	}
	for _, id := range goIDs {
		s := suiteByID[id]
		if s == nil {
			t.Errorf("suite %s missing from the table", tls.CipherSuiteName(id))
			continue
		}
		if s.name != tls.CipherSuiteName(id) {
			t.Errorf("name %q != crypto/tls %q", s.name, tls.CipherSuiteName(id))
		}
		if s.goDef != secure[id] {
			t.Errorf("%s: goDef %v, crypto/tls secure %v", s.name, s.goDef, secure[id])
		}
		if !strings.Contains(s.name, s.enc) {
			t.Errorf("%s: bulk cipher %q not in the name", s.name, s.enc)
		}
		if _, clash := otherByID[id]; clash {
			t.Errorf("%s also in otherSuites", s.name)
		}
	}
}

func TestParseEnabledCipherSuites_SSLEnabledCipherSuites(t *testing.T) {
	// "*" = all supported (crypto/tls's default list: nil).
	for _, v := range []string{"*", "", "  "} {
		ids, err := ParseEnabledCipherSuites(v)
		if err != nil || ids != nil {
			t.Errorf("%q: %v %v", v, ids, err)
		}
	}
	// The reference separates with semicolons; commas, case and OpenSSL
	// names are accepted; TLS 1.3 suites are accepted and dropped.
	ids, err := ParseEnabledCipherSuites("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384; tls_ecdhe_rsa_with_aes_128_gcm_sha256,TLS_AES_128_GCM_SHA256;ECDHE-RSA-CHACHA20-POLY1305;TLS_RSA_WITH_3DES_EDE_CBC_SHA;TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
	want := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}
	if err != nil || !slices.Equal(ids, want) {
		t.Errorf("got %v, %v; want %v", ids, err, want)
	}
	ids, err = ParseEnabledCipherSuites("TLS_AES_256_GCM_SHA384;TLS_CHACHA20_POLY1305_SHA256")
	if err != nil || ids == nil || len(ids) != 0 {
		t.Errorf("TLS 1.3 only: %v %v", ids, err)
	}
	// The reference's example names that Go lacks are errors naming them.
	_, err = ParseEnabledCipherSuites("TLS_DHE_DSS_WITH_AES_128_CBC_SHA;TLS_DH_ANON_WITH_AES_128_CBC_SHA;TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256;TLS_RSA_WITH_RC4_128_MD5;TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
	if err == nil || !strings.Contains(err.Error(), "not implemented by Go's crypto/tls: TLS_DHE_DSS_WITH_AES_128_CBC_SHA, TLS_DH_ANON_WITH_AES_128_CBC_SHA, TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_RC4_128_MD5") {
		t.Errorf("error = %v", err)
	}
	_, err = ParseEnabledCipherSuites("CALG_AES_256;TLS_FOO")
	if err == nil || !strings.Contains(err.Error(), "Platform (Schannel)") || !strings.Contains(err.Error(), "unknown cipher suites: TLS_FOO") {
		t.Errorf("error = %v", err)
	}
	// Every suite the reference lists for the Internal provider is either
	// implemented or reported as not implemented, never unknown.
	for _, name := range referenceInternalSuites {
		_, err := ParseEnabledCipherSuites(name)
		if err != nil && !strings.Contains(err.Error(), "not implemented by Go") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// referenceInternalSuites is the reference's list of SSLEnabledCipherSuites
// values for SSLProvider Internal.
var referenceInternalSuites = strings.Fields(`TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384
TLS_RSA_WITH_AES_256_GCM_SHA384 TLS_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256
TLS_DHE_DSS_WITH_AES_256_GCM_SHA384 TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384
TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256 TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 TLS_DHE_DSS_WITH_AES_128_GCM_SHA256
TLS_DH_RSA_WITH_AES_128_GCM_SHA256 TLS_DH_RSA_WITH_AES_256_GCM_SHA384 TLS_DH_DSS_WITH_AES_128_GCM_SHA256
TLS_DH_DSS_WITH_AES_256_GCM_SHA384 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384 TLS_DHE_DSS_WITH_AES_256_CBC_SHA256 TLS_RSA_WITH_AES_256_CBC_SHA256
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384 TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
TLS_DHE_RSA_WITH_AES_128_CBC_SHA256 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 TLS_RSA_WITH_AES_128_CBC_SHA256
TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256 TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256 TLS_DHE_DSS_WITH_AES_128_CBC_SHA256
TLS_RSA_WITH_AES_256_CBC_SHA TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA TLS_DHE_RSA_WITH_AES_256_CBC_SHA TLS_ECDH_RSA_WITH_AES_256_CBC_SHA
TLS_DHE_DSS_WITH_AES_256_CBC_SHA TLS_RSA_WITH_AES_128_CBC_SHA TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA TLS_ECDH_RSA_WITH_AES_128_CBC_SHA
TLS_DHE_RSA_WITH_AES_128_CBC_SHA TLS_DHE_DSS_WITH_AES_128_CBC_SHA TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA
TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA
TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA TLS_RSA_WITH_3DES_EDE_CBC_SHA
TLS_RSA_WITH_DES_CBC_SHA TLS_DHE_RSA_WITH_DES_CBC_SHA TLS_DHE_DSS_WITH_DES_CBC_SHA TLS_RSA_WITH_RC4_128_MD5
TLS_RSA_WITH_RC4_128_SHA TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 TLS_AES_128_GCM_SHA256`)

func TestCipherStrength_SSLCipherStrength(t *testing.T) {
	for id, bits := range map[uint16]int{
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:       128,
		tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:          256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 256,
		tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA:               112,
		tls.TLS_RSA_WITH_RC4_128_SHA:                    128,
		tls.TLS_AES_256_GCM_SHA384:                      256,
		0x0033:                                          0,
	} {
		if got := CipherSuiteStrength(id); got != bits {
			t.Errorf("CipherSuiteStrength(%s) = %d, want %d", CipherSuiteName(id), got, bits)
		}
	}
	// Filtering Go's defaults at 256 bits keeps AES-256 and ChaCha20.
	ids, err := FilterCipherStrength(nil, 256)
	if err != nil || len(ids) == 0 {
		t.Fatal(err)
	}
	for _, id := range ids {
		if n := tls.CipherSuiteName(id); !strings.Contains(n, "AES_256") && !strings.Contains(n, "CHACHA20") {
			t.Errorf("256-bit filter kept %s", n)
		}
	}
	all, _ := ParseOpenSSLCipherList("ALL")
	ids, _ = FilterCipherStrength(all, 128)
	if slices.Contains(ids, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA) || !slices.Contains(ids, tls.TLS_RSA_WITH_RC4_128_SHA) {
		t.Errorf("128-bit filter: %v", ids)
	}
	ids, _ = FilterCipherStrength(all, 112)
	if !slices.Contains(ids, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA) {
		t.Error("112-bit filter dropped 3DES")
	}
	if ids, err := FilterCipherStrength(all, 0); err != nil || !slices.Equal(ids, all) {
		t.Error("0 must not filter")
	}
	if _, err := FilterCipherStrength(nil, 384); err == nil || !strings.Contains(err.Error(), "SSLCipherStrength=384") {
		t.Errorf("384: %v", err)
	}
	if err := CheckNegotiatedStrength(tls.ConnectionState{CipherSuite: tls.TLS_AES_128_GCM_SHA256}, 256); err == nil ||
		!strings.Contains(err.Error(), "TLS_AES_128_GCM_SHA256 has 128-bit strength") {
		t.Errorf("CheckNegotiatedStrength: %v", err)
	}
	if err := CheckNegotiatedStrength(tls.ConnectionState{CipherSuite: tls.TLS_AES_256_GCM_SHA384}, 256); err != nil {
		t.Error(err)
	}
	if err := CheckNegotiatedStrength(tls.ConnectionState{}, 0); err != nil {
		t.Error(err)
	}
}

func TestCipherSuiteName_IANANames(t *testing.T) {
	for id, name := range map[uint16]string{
		0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		0x009e: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
		0x00ff: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
		0x0a0a: "GREASE",
		0xfafa: "GREASE",
		0xfefe: "0xFEFE",
	} {
		if got := CipherSuiteName(id); got != name {
			t.Errorf("CipherSuiteName(%04x) = %q, want %q", id, got, name)
		}
	}
	if got := DefaultCipherSuites(); len(got) == 0 || slices.ContainsFunc(got, isTLS13Suite) {
		t.Errorf("DefaultCipherSuites = %v", got)
	}
}
