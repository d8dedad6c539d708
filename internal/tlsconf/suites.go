package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// suite describes a cipher suite that crypto/tls implements, with the
// attributes the OpenSSL cipher-list keywords and the negotiated-state
// readers need.
type suite struct {
	id      uint16
	name    string // IANA name, as crypto/tls spells it
	openssl string // OpenSSL name
	kx      string // key exchange: "RSA", "ECDHE"; "" for TLS 1.3 (any)
	au      string // authentication: "RSA", "ECDSA"; "" for TLS 1.3 (any)
	enc     string // bulk cipher, IANA spelling: "AES_128_GCM"
	encKey  string // OpenSSL's cipher family: "AES128", "AES256", "CHACHA20", "3DES", "RC4"
	gcm     bool
	bits    int    // bulk cipher strength in bits
	mac     string // "SHA1", "SHA256", "SHA384", "AEAD"
	minVer  string // OpenSSL's protocol keyword: "SSLv3", "TLSv1", "TLSv1.2", "TLSv1.3"
	high    bool   // OpenSSL HIGH (else MEDIUM)
	tls13   bool
	goDef   bool // in crypto/tls's default list (tls.CipherSuites())
}

// goSuites is every suite crypto/tls implements (Go 1.26).
var goSuites = []suite{
	{tls.TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", "", "", "AES_128_GCM", "AES128", true, 128, "AEAD", "TLSv1.3", true, true, true},
	{tls.TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", "", "", "AES_256_GCM", "AES256", true, 256, "AEAD", "TLSv1.3", true, true, true},
	{tls.TLS_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "", "", "CHACHA20_POLY1305", "CHACHA20", false, 256, "AEAD", "TLSv1.3", true, true, true},

	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE", "ECDSA", "AES_256_GCM", "AES256", true, 256, "AEAD", "TLSv1.2", true, false, true},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE", "RSA", "AES_256_GCM", "AES256", true, 256, "AEAD", "TLSv1.2", true, false, true},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE", "ECDSA", "CHACHA20_POLY1305", "CHACHA20", false, 256, "AEAD", "TLSv1.2", true, false, true},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE", "RSA", "CHACHA20_POLY1305", "CHACHA20", false, 256, "AEAD", "TLSv1.2", true, false, true},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE", "ECDSA", "AES_128_GCM", "AES128", true, 128, "AEAD", "TLSv1.2", true, false, true},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE", "RSA", "AES_128_GCM", "AES128", true, 128, "AEAD", "TLSv1.2", true, false, true},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256", "ECDHE", "ECDSA", "AES_128_CBC", "AES128", false, 128, "SHA256", "TLSv1.2", true, false, false},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256", "ECDHE", "RSA", "AES_128_CBC", "AES128", false, 128, "SHA256", "TLSv1.2", true, false, false},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE", "ECDSA", "AES_256_CBC", "AES256", false, 256, "SHA1", "TLSv1", true, false, true},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", "ECDHE", "RSA", "AES_256_CBC", "AES256", false, 256, "SHA1", "TLSv1", true, false, true},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE", "ECDSA", "AES_128_CBC", "AES128", false, 128, "SHA1", "TLSv1", true, false, true},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", "ECDHE", "RSA", "AES_128_CBC", "AES128", false, 128, "SHA1", "TLSv1", true, false, true},
	{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA", "ECDHE", "ECDSA", "RC4_128", "RC4", false, 128, "SHA1", "TLSv1", false, false, false},
	{tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA", "ECDHE", "RSA", "RC4_128", "RC4", false, 128, "SHA1", "TLSv1", false, false, false},
	{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA", "ECDHE", "RSA", "3DES_EDE_CBC", "3DES", false, 112, "SHA1", "TLSv1", false, false, false},

	{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", "RSA", "RSA", "AES_256_GCM", "AES256", true, 256, "AEAD", "TLSv1.2", true, false, false},
	{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", "RSA", "RSA", "AES_128_GCM", "AES128", true, 128, "AEAD", "TLSv1.2", true, false, false},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256", "RSA", "RSA", "AES_128_CBC", "AES128", false, 128, "SHA256", "TLSv1.2", true, false, false},
	{tls.TLS_RSA_WITH_AES_256_CBC_SHA, "TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA", "RSA", "RSA", "AES_256_CBC", "AES256", false, 256, "SHA1", "SSLv3", true, false, false},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA, "TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", "RSA", "RSA", "AES_128_CBC", "AES128", false, 128, "SHA1", "SSLv3", true, false, false},
	{tls.TLS_RSA_WITH_RC4_128_SHA, "TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA", "RSA", "RSA", "RC4_128", "RC4", false, 128, "SHA1", "SSLv3", false, false, false},
	{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA", "RSA", "RSA", "3DES_EDE_CBC", "3DES", false, 112, "SHA1", "SSLv3", false, false, false},
}

var (
	suiteByID   = map[uint16]*suite{}
	suiteByName = map[string]*suite{} // upper-case IANA and OpenSSL names
	otherByName = map[string]string{} // upper-case IANA/OpenSSL name -> IANA name
	otherByID   = map[uint16]string{}
)

func init() {
	for i := range goSuites {
		s := &goSuites[i]
		suiteByID[s.id] = s
		suiteByName[strings.ToUpper(s.name)] = s
		suiteByName[strings.ToUpper(s.openssl)] = s
	}
	// The legacy Go names without _SHA256.
	suiteByName["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"] = suiteByID[tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256]
	suiteByName["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"] = suiteByID[tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]
	for _, o := range otherSuites {
		otherByID[o.id] = o.name
		otherByName[strings.ToUpper(o.name)] = o.name
		if o.openssl != "" {
			otherByName[strings.ToUpper(o.openssl)] = o.name
		}
	}
}

// DefaultCipherSuites returns the TLS 1.0-1.2 suites crypto/tls enables
// when tls.Config.CipherSuites is nil (the secure ones of tls.CipherSuites():
// ECDHE with AES-GCM, ChaCha20-Poly1305 or AES-CBC-SHA).
func DefaultCipherSuites() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		if !isTLS13Suite(s.ID) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

func isTLS13Suite(id uint16) bool { return id >= 0x1301 && id <= 0x1305 }

// ParseEnabledCipherSuites maps SSLEnabledCipherSuites to
// tls.Config.CipherSuites.
//
// "*" (or "") returns nil: crypto/tls's default suites (see
// DefaultCipherSuites). The reference's "*" means "all supported"; Go's
// default leaves out the insecure suites it implements (RSA key exchange,
// 3DES, RC4, CBC-SHA256), which can still be listed by name.
//
// Otherwise the value is a list of IANA names ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
// separated by semicolons (the reference) or commas, matched without regard
// to case; OpenSSL names ("ECDHE-RSA-AES128-GCM-SHA256") are accepted too.
// The TLS 1.3 suites (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
// TLS_CHACHA20_POLY1305_SHA256) are accepted and left out of the result:
// crypto/tls cannot configure TLS 1.3 suites and always enables all three.
//
// Errors name every suite crypto/tls does not implement (DHE, static DH and
// ECDH, DSS, anonymous, NULL, DES, RC4-MD5, CCM, Camellia, ARIA, PSK...),
// every unknown name, and the reference's Platform-only CALG_* names. A list
// of only TLS 1.3 suites returns an empty, non-nil slice (TLS 1.2 and below
// then have no suite).
func ParseEnabledCipherSuites(value string) ([]uint16, error) {
	v := strings.TrimSpace(value)
	if v == "" || v == "*" {
		return nil, nil
	}
	ids := []uint16{}
	seen := map[uint16]bool{}
	var notGo, unknown, platform []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		u := strings.ToUpper(f)
		if s, ok := suiteByName[u]; ok {
			if !s.tls13 && !seen[s.id] {
				ids = append(ids, s.id)
				seen[s.id] = true
			}
			continue
		}
		switch {
		case otherByName[u] != "":
			notGo = append(notGo, f)
		case strings.HasPrefix(u, "CALG_"):
			platform = append(platform, f)
		default:
			unknown = append(unknown, f)
		}
	}
	var msgs []string
	if len(notGo) > 0 {
		msgs = append(msgs, fmt.Sprintf("not implemented by Go's crypto/tls: %s", strings.Join(notGo, ", ")))
	}
	if len(platform) > 0 {
		msgs = append(msgs, fmt.Sprintf("Platform (Schannel) algorithm names are not cipher suites here: %s", strings.Join(platform, ", ")))
	}
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("unknown cipher suites: %s", strings.Join(unknown, ", ")))
	}
	if len(msgs) > 0 {
		return nil, fmt.Errorf("SSLEnabledCipherSuites: %s", strings.Join(msgs, "; "))
	}
	return ids, nil
}

// CipherSuiteStrength returns the bulk cipher strength of a suite in bits,
// as SSLCipherStrength and SSLNegotiatedCipherStrength use it: AES-128 128,
// AES-256 256, ChaCha20 256, 3DES 112 (its effective strength; 168 bits of
// key), RC4 128. It is 0 for a suite crypto/tls does not implement.
func CipherSuiteStrength(id uint16) int {
	if s := suiteByID[id]; s != nil {
		return s.bits
	}
	return 0
}

// FilterCipherStrength applies SSLCipherStrength: it keeps the suites whose
// bulk cipher has at least minBits bits (see CipherSuiteStrength). nil
// suites stands for crypto/tls's defaults (DefaultCipherSuites). minBits <= 0
// returns suites unchanged.
//
// TLS 1.3 suites cannot be configured in crypto/tls: TLS_AES_128_GCM_SHA256
// stays possible when TLS 1.3 is enabled, whatever minBits is. Use
// CheckNegotiatedStrength after the handshake to enforce the minimum there.
//
// It is an error when no TLS 1.0-1.2 suite is left.
func FilterCipherStrength(suites []uint16, minBits int) ([]uint16, error) {
	if minBits <= 0 {
		return suites, nil
	}
	if suites == nil {
		suites = DefaultCipherSuites()
	}
	out := []uint16{}
	for _, id := range suites {
		if CipherSuiteStrength(id) >= minBits {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("SSLCipherStrength=%d: no enabled cipher suite is that strong (the strongest bulk ciphers have 256 bits)", minBits)
	}
	return out, nil
}

// CheckNegotiatedStrength returns an error when the connection's cipher is
// weaker than minBits (SSLCipherStrength); for use in
// tls.Config.VerifyConnection, as TLS 1.3 suites cannot be filtered before
// the handshake.
func CheckNegotiatedStrength(cs tls.ConnectionState, minBits int) error {
	if minBits <= 0 {
		return nil
	}
	if got := CipherSuiteStrength(cs.CipherSuite); got < minBits {
		return fmt.Errorf("negotiated cipher suite %s has %d-bit strength, below SSLCipherStrength=%d",
			CipherSuiteName(cs.CipherSuite), got, minBits)
	}
	return nil
}

// CipherSuiteName returns the IANA name of a suite, including suites
// crypto/tls does not implement (for ClientHello descriptions), "GREASE" for
// RFC 8701 values, and "0xXXXX" for unassigned values.
func CipherSuiteName(id uint16) string {
	if s := suiteByID[id]; s != nil {
		return s.name
	}
	if n := otherByID[id]; n != "" {
		return n
	}
	if isGREASE(id) {
		return "GREASE"
	}
	return fmt.Sprintf("0x%04X", id)
}

// isGREASE reports RFC 8701 GREASE values (0x0A0A, 0x1A1A, ... 0xFAFA).
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }
