package tlsconf

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
)

// tls13SigNames are the reference's TLS13SignatureAlgorithms names, plus
// the IANA spellings, mapped to crypto/tls schemes.
var tls13SigNames = map[string]tls.SignatureScheme{
	"ed25519":                tls.Ed25519,
	"ecdsa_secp256r1_sha256": tls.ECDSAWithP256AndSHA256,
	"ecdsa_secp384r1_sha384": tls.ECDSAWithP384AndSHA384,
	"ecdsa_secp521r1_sha512": tls.ECDSAWithP521AndSHA512,
	"rsa_pkcs1_sha256":       tls.PKCS1WithSHA256,
	"rsa_pkcs1_sha384":       tls.PKCS1WithSHA384,
	"rsa_pkcs1_sha512":       tls.PKCS1WithSHA512,
	"rsa_pss_sha256":         tls.PSSWithSHA256,
	"rsa_pss_sha384":         tls.PSSWithSHA384,
	"rsa_pss_sha512":         tls.PSSWithSHA512,
	"rsa_pss_rsae_sha256":    tls.PSSWithSHA256,
	"rsa_pss_rsae_sha384":    tls.PSSWithSHA384,
	"rsa_pss_rsae_sha512":    tls.PSSWithSHA512,
	"rsa_pkcs1_sha1":         tls.PKCS1WithSHA1,
	"ecdsa_sha1":             tls.ECDSAWithSHA1,
}

// unsupportedSigNames are schemes the reference or IANA define that
// crypto/tls does not implement.
var unsupportedSigNames = map[string]uint16{
	"ed448":              0x0808,
	"rsa_pss_pss_sha256": 0x0809,
	"rsa_pss_pss_sha384": 0x080a,
	"rsa_pss_pss_sha512": 0x080b,
}

// tls12Sigs maps the reference's TLS 1.2 "hash-signature" names, by
// signature then hash.
var tls12Sigs = map[string]map[string]tls.SignatureScheme{
	"rsa":   {"sha1": tls.PKCS1WithSHA1, "sha256": tls.PKCS1WithSHA256, "sha384": tls.PKCS1WithSHA384, "sha512": tls.PKCS1WithSHA512},
	"ecdsa": {"sha1": tls.ECDSAWithSHA1, "sha256": tls.ECDSAWithP256AndSHA256, "sha384": tls.ECDSAWithP384AndSHA384, "sha512": tls.ECDSAWithP521AndSHA512},
}

// ParseTLS12SignatureAlgorithms maps TLS12SignatureAlgorithms
// ("sha256-rsa,sha384-ecdsa,...") to signature schemes.
//
// sha1/sha256/sha384/sha512 with rsa (PKCS #1 v1.5) or ecdsa map to the
// TLS 1.2 schemes (ecdsa with any curve, as TLS 1.2 does not bind the curve);
// the TLS 1.3 names of ParseTLS13SignatureAlgorithms are accepted too, which
// is how RSA-PSS can be allowed for TLS 1.2. "dsa" and "sha224" combinations
// (in the reference's default) are not implemented by crypto/tls: they are
// skipped and returned in skipped, unless nothing is left, which is an
// error. Unknown names are an error. An empty value returns nil: no
// restriction, as in the reference. SHA-1 schemes are accepted, but Go 1.25
// and later only use them in TLS 1.2 with GODEBUG=tlssha1=1.
func ParseTLS12SignatureAlgorithms(value string) (schemes []tls.SignatureScheme, skipped []string, err error) {
	return parseSigs("TLS12SignatureAlgorithms", value, true)
}

// ParseTLS13SignatureAlgorithms maps TLS13SignatureAlgorithms ("ed25519,
// ecdsa_secp256r1_sha256, rsa_pss_sha256, rsa_pkcs1_sha256, ...") to
// signature schemes. ed448 (in the reference's default) and the
// rsa_pss_pss_* schemes are not implemented by crypto/tls: skipped and
// returned in skipped unless nothing is left (an error). Unknown names are
// an error; an empty value returns nil (no restriction).
func ParseTLS13SignatureAlgorithms(value string) (schemes []tls.SignatureScheme, skipped []string, err error) {
	return parseSigs("TLS13SignatureAlgorithms", value, false)
}

func parseSigs(setting, value string, tls12 bool) ([]tls.SignatureScheme, []string, error) {
	var (
		out              []tls.SignatureScheme
		skipped, unknown []string
	)
	add := func(s tls.SignatureScheme) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, f := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' }) {
		name := strings.ToLower(f)
		if s, ok := tls13SigNames[name]; ok {
			add(s)
			continue
		}
		if _, ok := unsupportedSigNames[name]; ok {
			skipped = append(skipped, f)
			continue
		}
		if tls12 {
			if h, sig, ok := strings.Cut(name, "-"); ok {
				if s, ok := tls12Sigs[sig][h]; ok {
					add(s)
					continue
				}
				hashKnown := h == "md5" || h == "sha1" || h == "sha224" || h == "sha256" || h == "sha384" || h == "sha512"
				if hashKnown && (sig == "rsa" || sig == "dsa" || sig == "ecdsa") {
					skipped = append(skipped, f)
					continue
				}
			}
		}
		unknown = append(unknown, f)
	}
	switch {
	case len(unknown) > 0:
		return nil, nil, fmt.Errorf("%s: unknown signature algorithms: %s", setting, strings.Join(unknown, ", "))
	case len(out) == 0 && len(skipped) > 0:
		return nil, nil, fmt.Errorf("%s: %s not implemented by Go's crypto/tls", setting, strings.Join(skipped, ", ")+pluralIs(len(skipped)))
	}
	return out, skipped, nil
}

// SignaturePolicy holds the parsed TLS12SignatureAlgorithms and
// TLS13SignatureAlgorithms; a nil list means no restriction.
//
// What a crypto/tls server can honour:
//   - The signatures the server itself makes in the handshake (TLS 1.2
//     ServerKeyExchange, TLS 1.3 CertificateVerify): Restrict sets
//     tls.Certificate.SupportedSignatureAlgorithms for the version that will
//     be negotiated (see PredictVersion), from GetCertificate or
//     GetConfigForClient.
//   - The signature algorithm of the client's certificate, which is what
//     the reference checks on the server's certificate: CheckPeerCertificate,
//     from VerifyConnection.
//
// Not possible: tls.Config has no field to restrict the signature_algorithms
// a server advertises in its CertificateRequest or accepts in the client's
// CertificateVerify; crypto/tls always uses its own list there.
type SignaturePolicy struct {
	// TLS12 is the parsed TLS12SignatureAlgorithms (TLS 1.0-1.2).
	TLS12 []tls.SignatureScheme
	// TLS13 is the parsed TLS13SignatureAlgorithms.
	TLS13 []tls.SignatureScheme
}

// Schemes returns the list that applies to a TLS version.
func (p SignaturePolicy) Schemes(version uint16) []tls.SignatureScheme {
	if version >= tls.VersionTLS13 {
		return p.TLS13
	}
	return p.TLS12
}

// keySchemes lists the schemes a key can sign with in a TLS version.
func keySchemes(pub any, version uint16) []tls.SignatureScheme {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if version >= tls.VersionTLS13 {
			return []tls.SignatureScheme{tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PSSWithSHA512}
		}
		return []tls.SignatureScheme{tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PSSWithSHA512,
			tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512, tls.PKCS1WithSHA1}
	case *ecdsa.PublicKey:
		if version < tls.VersionTLS13 {
			return []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.ECDSAWithP384AndSHA384, tls.ECDSAWithP521AndSHA512, tls.ECDSAWithSHA1}
		}
		switch k.Curve {
		case elliptic.P256():
			return []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}
		case elliptic.P384():
			return []tls.SignatureScheme{tls.ECDSAWithP384AndSHA384}
		case elliptic.P521():
			return []tls.SignatureScheme{tls.ECDSAWithP521AndSHA512}
		}
	case ed25519.PublicKey:
		return []tls.SignatureScheme{tls.Ed25519}
	}
	return nil
}

// Restrict returns a copy of cert whose SupportedSignatureAlgorithms are the
// policy's schemes for version that cert's key can use in that version (in
// TLS 1.3, RSA keys sign with RSA-PSS only). cert itself is returned when
// the policy has no list for the version. It is an error when no allowed
// scheme fits the key: the handshake could not succeed with that
// certificate.
func (p SignaturePolicy) Restrict(cert *tls.Certificate, version uint16) (*tls.Certificate, error) {
	allowed := p.Schemes(version)
	if allowed == nil || cert == nil {
		return cert, nil
	}
	var pub any
	if cert.Leaf != nil {
		pub = cert.Leaf.PublicKey
	} else if len(cert.Certificate) > 0 {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, err
		}
		pub = leaf.PublicKey
	}
	var schemes []tls.SignatureScheme
	for _, s := range keySchemes(pub, version) {
		if slices.Contains(allowed, s) {
			schemes = append(schemes, s)
		}
	}
	if len(schemes) == 0 {
		return nil, fmt.Errorf("%s: the certificate's %s key cannot sign with any allowed algorithm in %s",
			settingFor(version), keyKind(pub), VersionName(version))
	}
	c := *cert
	c.SupportedSignatureAlgorithms = schemes
	return &c, nil
}

func settingFor(version uint16) string {
	if version >= tls.VersionTLS13 {
		return "TLS13SignatureAlgorithms"
	}
	return "TLS12SignatureAlgorithms"
}

func keyKind(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// certSigScheme maps a certificate signature algorithm to the scheme the
// settings name. ECDSA maps by hash (SHA-256 to ecdsa_secp256r1_sha256 and
// so on), as TLS 1.2 names do.
func certSigScheme(a x509.SignatureAlgorithm) (tls.SignatureScheme, bool) {
	switch a {
	case x509.SHA1WithRSA:
		return tls.PKCS1WithSHA1, true
	case x509.SHA256WithRSA:
		return tls.PKCS1WithSHA256, true
	case x509.SHA384WithRSA:
		return tls.PKCS1WithSHA384, true
	case x509.SHA512WithRSA:
		return tls.PKCS1WithSHA512, true
	case x509.SHA256WithRSAPSS:
		return tls.PSSWithSHA256, true
	case x509.SHA384WithRSAPSS:
		return tls.PSSWithSHA384, true
	case x509.SHA512WithRSAPSS:
		return tls.PSSWithSHA512, true
	case x509.ECDSAWithSHA1:
		return tls.ECDSAWithSHA1, true
	case x509.ECDSAWithSHA256:
		return tls.ECDSAWithP256AndSHA256, true
	case x509.ECDSAWithSHA384:
		return tls.ECDSAWithP384AndSHA384, true
	case x509.ECDSAWithSHA512:
		return tls.ECDSAWithP521AndSHA512, true
	case x509.PureEd25519:
		return tls.Ed25519, true
	}
	return 0, false
}

// CheckPeerCertificate checks the signature algorithm of the client's leaf
// certificate against the policy's list for the negotiated version, as the
// reference checks the server certificate's; use it in
// tls.Config.VerifyConnection. It returns nil without a peer certificate or
// without a list for the version.
func (p SignaturePolicy) CheckPeerCertificate(cs tls.ConnectionState) error {
	allowed := p.Schemes(cs.Version)
	if allowed == nil || len(cs.PeerCertificates) == 0 {
		return nil
	}
	leaf := cs.PeerCertificates[0]
	s, ok := certSigScheme(leaf.SignatureAlgorithm)
	if !ok || !slices.Contains(allowed, s) {
		return fmt.Errorf("%s: the client certificate's signature algorithm %s is not allowed",
			settingFor(cs.Version), leaf.SignatureAlgorithm)
	}
	return nil
}

// SignatureSchemeName names a signature scheme with the reference's TLS 1.3
// names ("rsa_pss_sha256", "ecdsa_secp256r1_sha256", "ed25519",
// "rsa_pkcs1_sha256"), IANA names for the others ("rsa_pss_pss_sha256",
// "ed448", "rsa_pkcs1_sha1", "ecdsa_sha1"...), "GREASE" for RFC 8701
// values and "0xXXXX" for the rest.
func SignatureSchemeName(s tls.SignatureScheme) string {
	switch s {
	case tls.Ed25519:
		return "ed25519"
	case tls.ECDSAWithP256AndSHA256:
		return "ecdsa_secp256r1_sha256"
	case tls.ECDSAWithP384AndSHA384:
		return "ecdsa_secp384r1_sha384"
	case tls.ECDSAWithP521AndSHA512:
		return "ecdsa_secp521r1_sha512"
	case tls.PKCS1WithSHA256:
		return "rsa_pkcs1_sha256"
	case tls.PKCS1WithSHA384:
		return "rsa_pkcs1_sha384"
	case tls.PKCS1WithSHA512:
		return "rsa_pkcs1_sha512"
	case tls.PSSWithSHA256:
		return "rsa_pss_sha256"
	case tls.PSSWithSHA384:
		return "rsa_pss_sha384"
	case tls.PSSWithSHA512:
		return "rsa_pss_sha512"
	case tls.PKCS1WithSHA1:
		return "rsa_pkcs1_sha1"
	case tls.ECDSAWithSHA1:
		return "ecdsa_sha1"
	}
	for n, v := range unsupportedSigNames {
		if uint16(s) == v {
			return n
		}
	}
	switch uint16(s) {
	case 0x0202:
		return "dsa_sha1"
	case 0x0301:
		return "rsa_sha224"
	case 0x0302:
		return "dsa_sha224"
	case 0x0303:
		return "ecdsa_sha224"
	case 0x0402:
		return "dsa_sha256"
	case 0x0502:
		return "dsa_sha384"
	case 0x0602:
		return "dsa_sha512"
	case 0x081a:
		return "ecdsa_brainpoolP256r1tls13_sha256"
	case 0x081b:
		return "ecdsa_brainpoolP384r1tls13_sha384"
	case 0x081c:
		return "ecdsa_brainpoolP512r1tls13_sha512"
	case 0x0904:
		return "mldsa44"
	case 0x0905:
		return "mldsa65"
	case 0x0906:
		return "mldsa87"
	}
	if isGREASE(uint16(s)) {
		return "GREASE"
	}
	return fmt.Sprintf("0x%04X", uint16(s))
}
