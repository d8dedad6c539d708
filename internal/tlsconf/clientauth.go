package tlsconf

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wsserver/wsserver/internal/certstore"
)

// SSLSecurityFlags bits (the reference's values).
const (
	// FlagIgnoreTimeValidity (0x1) accepts expired and not-yet-valid
	// certificates.
	FlagIgnoreTimeValidity = 0x00000001
	// FlagAllowUnknownCA (0x10) accepts certificates that do not chain to a
	// trusted root.
	FlagAllowUnknownCA = 0x00000010
	// FlagIgnoreWrongUsage (0x20) accepts certificates whose extended key
	// usage does not include client authentication.
	FlagIgnoreWrongUsage = 0x00000020
	// FlagIgnoreCNMismatch (0x80000000) ignores a host name mismatch. Client
	// certificates are not checked against a name, so it has no effect here.
	FlagIgnoreCNMismatch = 0x80000000
)

// The Status values of the SSLClientAuthentication event.
const (
	StatusOK            = "OK"
	StatusNoCertificate = "the client sent no certificate"
	StatusTimeInvalid   = "certificate has expired or is not yet valid"
	StatusUnknownCA     = "unknown certificate authority"
	StatusWrongUsage    = "certificate is not valid for client authentication (wrong usage)"
	StatusNotCA         = "an issuer in the chain is not a certificate authority"
	StatusWeakSignature = "certificate is signed with an insecure algorithm"
	StatusBadChain      = "certificate chain is invalid"
)

// hashName matches OpenSSL's c_rehash names: eight hex digits, a dot, a
// number (CRL links, ".r0", are not certificates).
var hashName = regexp.MustCompile(`^[0-9a-fA-F]{8}\.[0-9]+$`)

// LoadCAPool builds the pool of trusted CAs for client certificates from
// SSLCACerts (PEM certificates separated by newlines), OpenSSLCAFile (a PEM
// file; text between certificates is allowed) and OpenSSLCADir (a directory
// whose *.pem, *.crt, *.cer and c_rehash hash-named files, such as
// 9d66eef0.0, each hold PEM or DER certificates; other files are ignored).
// Empty settings are skipped; when all are empty it returns nil, which
// VerifyClientCertificate takes as the system's trusted roots.
//
// It is an error when a given setting yields no certificate, or a file
// cannot be read or parsed.
func LoadCAPool(sslCACerts, openSSLCAFile, openSSLCADir string) (*x509.CertPool, error) {
	if strings.TrimSpace(sslCACerts) == "" && openSSLCAFile == "" && openSSLCADir == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if strings.TrimSpace(sslCACerts) != "" {
		certs, err := parseCerts([]byte(sslCACerts), false)
		if err != nil {
			return nil, fmt.Errorf("SSLCACerts: %w", err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	if openSSLCAFile != "" {
		b, err := os.ReadFile(openSSLCAFile)
		if err != nil {
			return nil, fmt.Errorf("OpenSSLCAFile: %w", err)
		}
		certs, err := parseCerts(b, false)
		if err != nil {
			return nil, fmt.Errorf("OpenSSLCAFile %q: %w", openSSLCAFile, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	if openSSLCADir != "" {
		ents, err := os.ReadDir(openSSLCADir)
		if err != nil {
			return nil, fmt.Errorf("OpenSSLCADir: %w", err)
		}
		n := 0
		for _, e := range ents {
			name := e.Name()
			ext := strings.ToLower(filepath.Ext(name))
			if !hashName.MatchString(name) && ext != ".pem" && ext != ".crt" && ext != ".cer" {
				continue
			}
			p := filepath.Join(openSSLCADir, name)
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				continue // a dangling link or a directory
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("OpenSSLCADir: %w", err)
			}
			certs, err := parseCerts(b, true)
			if err != nil {
				return nil, fmt.Errorf("OpenSSLCADir file %q: %w", p, err)
			}
			for _, c := range certs {
				pool.AddCert(c)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("OpenSSLCADir %q holds no certificate files (*.pem, *.crt, *.cer or hash-named)", openSSLCADir)
		}
	}
	return pool, nil
}

// parseCerts reads the CERTIFICATE blocks of PEM text, or DER when allowDER
// and the data is not PEM.
func parseCerts(b []byte, allowDER bool) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		if allowDER {
			if cs, err := x509.ParseCertificates(b); err == nil && len(cs) > 0 {
				return cs, nil
			}
		}
		return nil, errors.New("no PEM certificate")
	}
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" && block.Type != "TRUSTED CERTIFICATE" && block.Type != "X509 CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil && block.Type == "TRUSTED CERTIFICATE" {
			c, err = parseFirstCert(block.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

// parseFirstCert parses the certificate at the start of OpenSSL's
// "TRUSTED CERTIFICATE" data (the certificate followed by trust settings).
func parseFirstCert(der []byte) (*x509.Certificate, error) {
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(der, &rv); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(rv.FullBytes)
}

// VerifyOptions configure VerifyClientCertificate.
type VerifyOptions struct {
	// Roots are the trusted CAs (LoadCAPool); nil means the system roots.
	Roots *x509.CertPool
	// SecurityFlags is SSLSecurityFlags; see the Flag constants. Flags
	// about CTLs, revocation (no revocation check is made) and test roots
	// have no effect.
	SecurityFlags uint32
	// IncludeCertChain is SSLIncludeCertChain: CertEncoded holds the whole
	// chain the client sent instead of the leaf only.
	IncludeCertChain bool
	// CurrentTime is the verification time; zero means now.
	CurrentTime time.Time
}

// ClientAuthResult is the parameters of the SSLClientAuthentication event.
type ClientAuthResult struct {
	// CertEncoded is the PEM of the client's certificate (its chain with
	// IncludeCertChain).
	CertEncoded []byte
	// CertSubject and CertIssuer are in certstore.FormatName's format.
	CertSubject string
	CertIssuer  string
	// Status is "OK" or why verification failed (the Status constants;
	// other x509 failures read "certificate verification failed: ...").
	Status string
	// Accept is the recommendation: Status == "OK".
	Accept bool
	// Chains are the verified chains, when the certificate chains to a
	// root.
	Chains [][]*x509.Certificate
}

// VerifyClientCertificate verifies the certificate chain a client sent
// (leaf first) for the SSLClientAuthentication event: chain to opts.Roots
// through the other certificates the client sent, validity at the current
// time, and extended key usage for client authentication.
//
// SSLSecurityFlags: FlagIgnoreTimeValidity verifies again at a time when the
// presented certificates are all valid (or the leaf's validity bounds);
// FlagAllowUnknownCA accepts a chain without a trusted root, still checking
// the leaf's validity period (unless ignored) and usage (unless ignored);
// FlagIgnoreWrongUsage verifies with any extended key usage;
// FlagIgnoreCNMismatch has no effect on client certificates.
//
// To use it, set tls.Config.ClientAuth to RequestClientCert or
// RequireAnyClientCert (crypto/tls then leaves verification to the
// application) and call it from VerifyPeerCertificate; see VerifyPeerFunc.
func VerifyClientCertificate(chain []*x509.Certificate, opts VerifyOptions) ClientAuthResult {
	if len(chain) == 0 || chain[0] == nil {
		return ClientAuthResult{Status: StatusNoCertificate}
	}
	leaf := chain[0]
	res := ClientAuthResult{
		CertSubject: certstore.Subject(leaf),
		CertIssuer:  certstore.Issuer(leaf),
	}
	encode := chain[:1]
	if opts.IncludeCertChain {
		encode = chain
	}
	for _, c := range encode {
		if c != nil {
			res.CertEncoded = append(res.CertEncoded, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}

	now := opts.CurrentTime
	if now.IsZero() {
		now = time.Now()
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		if c != nil {
			inter.AddCert(c)
		}
	}
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if opts.SecurityFlags&FlagIgnoreWrongUsage != 0 {
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	verify := func(at time.Time) ([][]*x509.Certificate, error) {
		return leaf.Verify(x509.VerifyOptions{Roots: opts.Roots, Intermediates: inter, CurrentTime: at, KeyUsages: usage})
	}

	chains, err := verify(now)
	if err != nil && opts.SecurityFlags&FlagIgnoreTimeValidity != 0 && isExpired(err) {
		chains, err = verifyIgnoringTime(chain, opts.Roots, usage)
	}
	if err != nil && opts.SecurityFlags&FlagAllowUnknownCA != 0 && isUnknownCA(err) {
		err = checkWithoutRoot(leaf, now, opts.SecurityFlags)
		chains = nil
	}
	if err != nil {
		res.Status = statusOf(err)
		return res
	}
	res.Status, res.Accept, res.Chains = StatusOK, true, chains
	return res
}

// checkWithoutRoot checks what can be checked on a leaf without a trusted
// root: its validity period and its extended key usage.
func checkWithoutRoot(leaf *x509.Certificate, now time.Time, flags uint32) error {
	if flags&FlagIgnoreTimeValidity == 0 && (now.Before(leaf.NotBefore) || now.After(leaf.NotAfter)) {
		return x509.CertificateInvalidError{Cert: leaf, Reason: x509.Expired}
	}
	if flags&FlagIgnoreWrongUsage == 0 {
		return checkUsage(leaf, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	}
	return nil
}

// verifyIgnoringTime verifies a chain whose certificates need not all be
// valid at the same time (FlagIgnoreTimeValidity); x509 cannot skip time
// checks. First it verifies at times when each presented certificate is
// valid; if the certificates are never valid together, it checks each
// presented link's signature (the issuer must be a CA), the leaf's usage,
// and verifies the topmost presented certificate against the roots within
// its own validity period.
func verifyIgnoringTime(chain []*x509.Certificate, roots *x509.CertPool, usage []x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
	verify := func(c *x509.Certificate, inter []*x509.Certificate, at time.Time, usage []x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
		pool := x509.NewCertPool()
		for _, i := range inter {
			pool.AddCert(i)
		}
		return c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: pool, CurrentTime: at, KeyUsages: usage})
	}
	var firstErr error
	for _, at := range candidateTimes(chain) {
		chains, err := verify(chain[0], chain[1:], at, usage)
		if err == nil {
			return chains, nil
		}
		if !isExpired(err) {
			return nil, err // another problem: report it
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if len(chain) < 2 {
		return nil, firstErr
	}
	for k := 0; k+1 < len(chain); k++ {
		if err := chain[k].CheckSignatureFrom(chain[k+1]); err != nil {
			return nil, err
		}
	}
	if err := checkUsage(chain[0], usage); err != nil {
		return nil, err
	}
	top := chain[len(chain)-1]
	for _, at := range []time.Time{mid(top.NotBefore, top.NotAfter), top.NotBefore, top.NotAfter} {
		topChains, err := verify(top, nil, at, []x509.ExtKeyUsage{x509.ExtKeyUsageAny})
		if err == nil {
			out := make([][]*x509.Certificate, 0, len(topChains))
			for _, tc := range topChains {
				out = append(out, append(append([]*x509.Certificate{}, chain[:len(chain)-1]...), tc...))
			}
			return out, nil
		}
		if !isExpired(err) {
			return nil, err
		}
	}
	return nil, firstErr
}

// checkUsage checks a leaf's extended key usage against usage (any of).
func checkUsage(leaf *x509.Certificate, usage []x509.ExtKeyUsage) error {
	if len(leaf.ExtKeyUsage) == 0 || slices.Contains(usage, x509.ExtKeyUsageAny) {
		return nil
	}
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageAny || slices.Contains(usage, u) {
			return nil
		}
	}
	return x509.CertificateInvalidError{Cert: leaf, Reason: x509.IncompatibleUsage}
}

func mid(a, b time.Time) time.Time { return a.Add(b.Sub(a) / 2) }

// candidateTimes returns times to verify at: the middle of the presented
// certificates' common validity window, then the middle and bounds of each
// one's own window.
func candidateTimes(chain []*x509.Certificate) []time.Time {
	var from, to time.Time
	var out []time.Time
	for i, c := range chain {
		if c == nil {
			continue
		}
		if i == 0 || c.NotBefore.After(from) {
			from = c.NotBefore
		}
		if i == 0 || c.NotAfter.Before(to) {
			to = c.NotAfter
		}
	}
	if !to.Before(from) {
		out = append(out, mid(from, to))
	}
	for _, c := range chain {
		if c != nil {
			out = append(out, mid(c.NotBefore, c.NotAfter), c.NotBefore, c.NotAfter)
		}
	}
	return out
}

func isExpired(err error) bool {
	var ce x509.CertificateInvalidError
	return errors.As(err, &ce) && ce.Reason == x509.Expired
}

func isUnknownCA(err error) bool {
	var ua x509.UnknownAuthorityError
	var sr x509.SystemRootsError
	return errors.As(err, &ua) || errors.As(err, &sr)
}

// statusOf turns an x509 verification error into a Status string.
func statusOf(err error) string {
	var ce x509.CertificateInvalidError
	var ia x509.InsecureAlgorithmError
	var cv x509.ConstraintViolationError
	switch {
	case isUnknownCA(err):
		return StatusUnknownCA
	case errors.As(err, &cv):
		return StatusNotCA
	case errors.As(err, &ia):
		return StatusWeakSignature
	case errors.As(err, &ce):
		switch ce.Reason {
		case x509.Expired:
			return StatusTimeInvalid
		case x509.IncompatibleUsage:
			return StatusWrongUsage
		case x509.NotAuthorizedToSign:
			return StatusNotCA
		case x509.CANotAuthorizedForThisName, x509.TooManyIntermediates, x509.CANotAuthorizedForExtKeyUsage,
			x509.NameConstraintsWithoutSANs, x509.UnconstrainedName, x509.TooManyConstraints:
			return StatusBadChain + ": " + err.Error()
		}
	}
	return "certificate verification failed: " + err.Error()
}

// VerifyPeerFunc returns a tls.Config.VerifyPeerCertificate callback that
// parses the client's certificates, verifies them with
// VerifyClientCertificate and lets decide (the SSLClientAuthentication
// event) accept or refuse the connection. decide receives the result and
// returns whether to accept; with a nil decide the result's Accept is used.
// Use it with ClientAuth RequestClientCert or RequireAnyClientCert. When the
// client sends no certificate (possible with RequestClientCert) there are no
// credentials to present: decide is not called and the handshake goes on.
func VerifyPeerFunc(opts VerifyOptions, decide func(ClientAuthResult) bool) func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	return func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
		if len(rawCerts) == 0 {
			return nil
		}
		var chain []*x509.Certificate
		for i, raw := range rawCerts {
			c, err := x509.ParseCertificate(raw)
			if err != nil {
				return fmt.Errorf("client certificate %d: %w", i+1, err)
			}
			chain = append(chain, c)
		}
		res := VerifyClientCertificate(chain, opts)
		accept := res.Accept
		if decide != nil {
			accept = decide(res)
		}
		if !accept {
			return fmt.Errorf("client certificate refused: %s", res.Status)
		}
		return nil
	}
}
