package tlsconf

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"strings"
)

// NegotiatedVersion is SSLNegotiatedVersion: "TLS1.0", "TLS1.1", "TLS1.2"
// or "TLS1.3" (see VersionName).
func NegotiatedVersion(cs tls.ConnectionState) string { return VersionName(cs.Version) }

// NegotiatedCipherSuite is SSLNegotiatedCipherSuite: the suite's IANA name,
// "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" or "TLS_AES_128_GCM_SHA256".
func NegotiatedCipherSuite(cs tls.ConnectionState) string { return CipherSuiteName(cs.CipherSuite) }

// NegotiatedCipher is SSLNegotiatedCipher: the bulk cipher in the IANA
// spelling used inside suite names: "AES_128_GCM", "AES_256_GCM",
// "AES_128_CBC", "AES_256_CBC", "CHACHA20_POLY1305", "3DES_EDE_CBC",
// "RC4_128"; "" for an unknown suite.
func NegotiatedCipher(cs tls.ConnectionState) string {
	if s := suiteByID[cs.CipherSuite]; s != nil {
		return s.enc
	}
	return ""
}

// NegotiatedCipherStrength is SSLNegotiatedCipherStrength: the bulk
// cipher's strength in bits (see CipherSuiteStrength).
func NegotiatedCipherStrength(cs tls.ConnectionState) int { return CipherSuiteStrength(cs.CipherSuite) }

// NegotiatedKeyExchange is SSLNegotiatedKeyExchange. For TLS 1.0-1.2 it is
// the suite's key exchange, "ECDHE" or "RSA". TLS 1.3 suites do not name a
// key exchange, so it is the negotiated group (see GroupName):
// "ecdhe_x25519", "ecdhe_secp256r1", "X25519MLKEM768"...
func NegotiatedKeyExchange(cs tls.ConnectionState) string {
	if cs.Version >= tls.VersionTLS13 {
		if cs.CurveID == 0 {
			return "" // a resumption without (EC)DHE
		}
		return GroupName(cs.CurveID)
	}
	if s := suiteByID[cs.CipherSuite]; s != nil {
		return s.kx
	}
	return ""
}

// NegotiatedKeyExchangeStrength is SSLNegotiatedKeyExchangeStrength, in
// bits. For (EC)DHE it is the group's size the way OpenSSL reports it
// (`openssl s_client`'s "Server Temp Key"): P-256 256, P-384 384, P-521 521,
// X25519 253. For the hybrid post-quantum groups it is the ML-KEM parameter
// (X25519MLKEM768 and SecP256r1MLKEM768 768, SecP384r1MLKEM1024 1024). For
// RSA key exchange it is the modulus size of serverLeaf, the server's
// certificate, which tls.ConnectionState does not carry on the server side
// (0 when serverLeaf is nil). 0 when unknown.
func NegotiatedKeyExchangeStrength(cs tls.ConnectionState, serverLeaf *x509.Certificate) int {
	if cs.CurveID != 0 {
		switch cs.CurveID {
		case tls.CurveP256:
			return 256
		case tls.CurveP384:
			return 384
		case tls.CurveP521:
			return 521
		case tls.X25519:
			return 253
		case tls.X25519MLKEM768, tls.SecP256r1MLKEM768:
			return 768
		case tls.SecP384r1MLKEM1024:
			return 1024
		}
		return 0
	}
	if s := suiteByID[cs.CipherSuite]; s != nil && s.kx == "RSA" && serverLeaf != nil {
		if k, ok := serverLeaf.PublicKey.(*rsa.PublicKey); ok {
			return k.N.BitLen()
		}
	}
	return 0
}

// Negotiated holds all SSLNegotiated* values of a connection.
type Negotiated struct {
	Cipher              string // SSLNegotiatedCipher
	CipherStrength      int    // SSLNegotiatedCipherStrength
	CipherSuite         string // SSLNegotiatedCipherSuite
	KeyExchange         string // SSLNegotiatedKeyExchange
	KeyExchangeStrength int    // SSLNegotiatedKeyExchangeStrength
	Version             string // SSLNegotiatedVersion
}

// Describe returns all SSLNegotiated* values of a connection; serverLeaf is
// as for NegotiatedKeyExchangeStrength.
func Describe(cs tls.ConnectionState, serverLeaf *x509.Certificate) Negotiated {
	return Negotiated{
		Cipher:              NegotiatedCipher(cs),
		CipherStrength:      NegotiatedCipherStrength(cs),
		CipherSuite:         NegotiatedCipherSuite(cs),
		KeyExchange:         NegotiatedKeyExchange(cs),
		KeyExchangeStrength: NegotiatedKeyExchangeStrength(cs, serverLeaf),
		Version:             NegotiatedVersion(cs),
	}
}

// DescribeClientHello returns the SupportedCipherSuites and
// SupportedSignatureAlgs parameters of the SSLConnectionRequest event:
// comma-separated names (CipherSuiteName, SignatureSchemeName) in the
// client's order, GREASE values left out. Suites crypto/tls does not
// implement keep their IANA names; unassigned values are "0xXXXX".
func DescribeClientHello(hello *tls.ClientHelloInfo) (supportedCipherSuites, supportedSignatureAlgs string) {
	if hello == nil {
		return "", ""
	}
	var cs, sa []string
	for _, id := range hello.CipherSuites {
		if !isGREASE(id) {
			cs = append(cs, CipherSuiteName(id))
		}
	}
	for _, s := range hello.SignatureSchemes {
		if !isGREASE(uint16(s)) {
			sa = append(sa, SignatureSchemeName(s))
		}
	}
	return strings.Join(cs, ","), strings.Join(sa, ",")
}
