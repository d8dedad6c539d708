// Package certstore loads the server certificate of the WSServer component
// from the reference's certificate store types (SSLCertStoreType,
// SSLCertStore, SSLCertStorePassword) and selects one by SSLCertSubject.
//
// Supported on Linux: PEMKeyFile/Blob, PFXFile/Blob, PublicKeyFile/Blob,
// P7BFile/Blob, JWKFile/Blob and Auto (which detects those formats). The
// other types fail with an *Error that says why; see Open.
//
// The package depends only on the standard library and
// software.sslmate.com/src/go-pkcs12.
package certstore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Store is an opened certificate store: every certificate in it, each with
// its private key when the store holds it.
type Store struct {
	// Entries are the certificates in store order (for a PEM file, the order
	// of the CERTIFICATE blocks). Private keys that match no certificate come
	// last, as entries with an empty Chain.
	Entries []Entry
	// Type is the type that was opened; for Auto, the detected type.
	Type StoreType
}

// Entry is one certificate of a Store.
type Entry struct {
	// Chain is the certificate followed by its issuers as far as the store
	// holds them (leaf first). It is empty for a private key that matches no
	// certificate in the store.
	Chain []*x509.Certificate
	// Key is the private key of Chain[0], or nil when the store holds no key
	// for it.
	Key crypto.PrivateKey
}

// Leaf returns the entry's certificate, or nil for a key-only entry.
func (e Entry) Leaf() *x509.Certificate {
	if len(e.Chain) == 0 {
		return nil
	}
	return e.Chain[0]
}

// Subject returns the subject of the entry's certificate in the reference's
// format (see FormatName), or "" for a key-only entry.
func (e Entry) Subject() string { return Subject(e.Leaf()) }

// TLSCertificate returns the entry as a tls.Certificate (chain, private key
// and Leaf). It fails with code 273 (cannot acquire security credentials)
// when the entry has no private key, the key cannot sign, the key does not
// match the certificate, or the key type cannot be used by crypto/tls; and
// with code 272 for a key-only entry, which has no certificate.
func (e Entry) TLSCertificate() (tls.Certificate, error) {
	leaf := e.Leaf()
	if leaf == nil {
		return tls.Certificate{}, newError(CodeCertNotFound, nil,
			"the store holds a private key but no X.509 certificate for it; a TLS server needs a certificate")
	}
	subj := Subject(leaf)
	if e.Key == nil {
		return tls.Certificate{}, newError(CodeCredentials, nil,
			"the store holds no private key for certificate %q", subj)
	}
	signer, ok := e.Key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, newError(CodeCredentials, nil,
			"the private key for certificate %q (%T) cannot sign", subj, e.Key)
	}
	if !publicKeysEqual(signer.Public(), leaf.PublicKey) {
		return tls.Certificate{}, newError(CodeCredentials, nil,
			"the private key does not match certificate %q", subj)
	}
	switch k := e.Key.(type) {
	case *rsa.PrivateKey, ed25519.PrivateKey:
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return tls.Certificate{}, newError(CodeCredentials, nil,
				"certificate %q uses ECDSA curve %s, which TLS cannot use (P-256, P-384, P-521 only)",
				subj, k.Curve.Params().Name)
		}
	default:
		return tls.Certificate{}, newError(CodeCredentials, nil,
			"certificate %q has a %T key, which crypto/tls cannot use (RSA, ECDSA, Ed25519 only)", subj, e.Key)
	}
	out := tls.Certificate{PrivateKey: e.Key, Leaf: leaf}
	for _, c := range e.Chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

// Open opens a certificate store of type t.
//
// For the *File types store is a file name; for the *Blob types it is the
// content, binary or base64 (PEM text for the PEM and public key types).
// For Auto, store is read as a file name when it names an existing file, and
// is otherwise taken as content; the format is detected from the content
// (PKCS#12, PEM, JSON Web Key, PKCS#7, DER certificate or private key).
//
// password opens PFX files and encrypted PEM private keys: PKCS#8
// "ENCRYPTED PRIVATE KEY" with PBES2 (PBKDF2 with HMAC-SHA1/224/256/384/512;
// AES-128/192/256-CBC or DES-EDE3-CBC), and legacy OpenSSL "Proc-Type:
// 4,ENCRYPTED" keys (RFC 1423, insecure by design but still produced by
// `openssl rsa -des3`).
//
// Errors are *Error values:
//   - 271 (cannot open certificate store): missing or unreadable file,
//     content that is not of the type, wrong or missing password, a
//     store type that cannot exist on Linux (User, Machine), or one only the
//     Java/.NET editions read (JKS, BCFKS).
//   - 270 (cannot load specified security library): PKCS11 and SecurityKey,
//     which would need a PKCS#11 module.
//   - 272 (cannot find specified certificate): types that cannot hold an
//     X.509 certificate (SSH public keys, PPK, XML keys), or content with
//     no certificate and no private key.
//   - 273 (cannot acquire security credentials): a PFX without a private key
//     that go-pkcs12 cannot list certificates from.
func Open(t StoreType, store []byte, password string) (*Store, error) {
	name := string(store)
	switch t {
	case User, Machine:
		return nil, newError(CodeOpenStore, nil,
			"%s store %q: Windows certificate stores (User/Machine) do not exist on Linux: use a PEM or PFX file",
			t, name)
	case JKSFile, JKSBlob:
		return nil, newError(CodeOpenStore, nil,
			"%s: Java Key Stores are only supported by the Java edition: convert it with "+
				"`keytool -importkeystore -deststoretype PKCS12` and use PFXFile", t)
	case BCFKSFile, BCFKSBlob:
		return nil, newError(CodeOpenStore, nil,
			"%s: Bouncy Castle FIPS key stores are only supported by the Java and .NET editions: "+
				"export the certificate and key to a PFX or PEM file", t)
	case PKCS11, SecurityKey:
		return nil, newError(CodeSecurityLibrary, nil,
			"%s: security keys need a PKCS#11 module, which this server cannot load: "+
				"export the certificate and key to a PFX or PEM file", t)
	}
	if !t.Valid() {
		return nil, newError(CodeOpenStore, nil, "unknown certificate store type %d", int(t))
	}

	data := store
	desc := t.kindName() + " blob"
	if t.IsFile() {
		desc = fmt.Sprintf("%s file %q", t.kindName(), name)
		b, err := readStoreFile(name)
		if err != nil {
			e := newError(CodeOpenStore, nil, "%s: %s", desc, describeFileError(err))
			e.Err = err
			return nil, e
		}
		data = b
	}
	var autoFileErr error // Auto: the value looked like a file name that could not be read
	if t == Auto {
		desc = "certificate blob"
		if looksLikePath(store) {
			if b, err := readStoreFile(name); err == nil {
				data = b
				desc = fmt.Sprintf("certificate file %q", name)
			} else {
				autoFileErr = err
			}
		}
	}

	var (
		certs []*x509.Certificate
		keys  []crypto.PrivateKey
		err   error
		typ   = t
	)
	switch t {
	case SSHPublicKeyBlob, SSHPublicKeyFile:
		return nil, newError(CodeCertNotFound, nil,
			"%s: an SSH public key holds no X.509 certificate and cannot be a TLS server certificate", desc)
	case PPKFile, PPKBlob:
		return nil, newError(CodeCertNotFound, nil,
			"%s: a PuTTY private key (PPK) holds no X.509 certificate and cannot be a TLS server certificate: "+
				"use a PEM file with the key and its certificate", desc)
	case XMLFile, XMLBlob:
		return nil, newError(CodeCertNotFound, nil,
			"%s: the .NET XML key format (RSAKeyValue) holds a key but no X.509 certificate, "+
				"so it cannot be a TLS server certificate: use a PEM or PFX file", desc)
	case PFXFile, PFXBlob:
		certs, keys, err = parsePFX(decodeBlob(data), password, desc)
	case PEMKeyFile, PEMKeyBlob, PublicKeyFile, PublicKeyBlob:
		certs, keys, err = parsePEMOrDER(data, password, desc)
	case P7BFile, P7BBlob:
		certs, err = parseP7BData(data, desc)
	case JWKFile, JWKBlob:
		certs, keys, err = parseJWK(data, desc)
	case Auto:
		typ, certs, keys, err = parseAuto(data, password, desc)
	}
	if err != nil {
		var e *Error
		if autoFileErr != nil && errors.As(err, &e) && e.Code == CodeOpenStore && typ == Auto {
			ne := newError(CodeOpenStore, nil, "%q is neither a readable file (%s) nor certificate content",
				name, describeFileError(autoFileErr))
			ne.Err = autoFileErr
			return nil, ne
		}
		return nil, err
	}
	if len(certs) == 0 && len(keys) == 0 {
		return nil, newError(CodeCertNotFound, nil, "%s holds no certificate and no private key", desc)
	}
	if t == PublicKeyFile || t == PublicKeyBlob {
		keys = nil // the reference: a public key certificate, no key
		if len(certs) == 0 {
			return nil, newError(CodeCertNotFound, nil, "%s holds no certificate", desc)
		}
	}
	return &Store{Entries: assemble(certs, keys), Type: typ}, nil
}

// kindName names the format of a store type in messages ("PFX").
func (t StoreType) kindName() string {
	switch t {
	case PFXFile, PFXBlob:
		return "PFX"
	case PEMKeyFile, PEMKeyBlob:
		return "PEM"
	case PublicKeyFile, PublicKeyBlob:
		return "certificate"
	case P7BFile, P7BBlob:
		return "PKCS#7"
	case JWKFile, JWKBlob:
		return "JWK"
	case SSHPublicKeyFile, SSHPublicKeyBlob:
		return "SSH public key"
	case PPKFile, PPKBlob:
		return "PPK"
	case XMLFile, XMLBlob:
		return "XML key"
	}
	return "certificate"
}

// maxStoreFile bounds the size of a store file.
const maxStoreFile = 64 << 20

// readStoreFile reads a regular file of at most maxStoreFile bytes (a
// device such as /dev/zero never ends).
func readStoreFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Size() > maxStoreFile {
		return nil, fmt.Errorf("%s is larger than %d MiB", name, maxStoreFile>>20)
	}
	return io.ReadAll(io.LimitReader(f, maxStoreFile+1))
}

func describeFileError(err error) string {
	switch {
	case os.IsNotExist(err):
		return "file does not exist"
	case os.IsPermission(err):
		return "permission denied"
	}
	return err.Error()
}

// looksLikePath reports whether b could be a file name rather than content:
// short, printable UTF-8 text without line breaks.
func looksLikePath(b []byte) bool {
	if len(b) == 0 || len(b) > 4096 || !utf8.Valid(b) || len(bytes.TrimSpace(b)) == 0 {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// assemble builds the entries of a store from its certificates and keys.
func assemble(certs []*x509.Certificate, keys []crypto.PrivateKey) []Entry {
	// Drop duplicate certificates (a PEM file may repeat a CA).
	var uniq []*x509.Certificate
	seen := map[string]bool{}
	for _, c := range certs {
		if c == nil || seen[string(c.Raw)] {
			continue
		}
		seen[string(c.Raw)] = true
		uniq = append(uniq, c)
	}
	used := make([]bool, len(keys))
	var entries []Entry
	for _, c := range uniq {
		e := Entry{Chain: buildChain(c, uniq)}
		for i, k := range keys {
			if pub := publicOf(k); pub != nil && publicKeysEqual(pub, c.PublicKey) {
				e.Key = k
				used[i] = true
				break
			}
		}
		entries = append(entries, e)
	}
	for i, k := range keys {
		if !used[i] {
			entries = append(entries, Entry{Key: k})
		}
	}
	return entries
}

// buildChain follows issuer links from leaf through pool.
func buildChain(leaf *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	in := map[*x509.Certificate]bool{leaf: true}
	cur := leaf
	for len(chain) <= len(pool) {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) && cur.CheckSignatureFrom(cur) == nil {
			break // self-signed
		}
		var next *x509.Certificate
		for _, c := range pool {
			if in[c] || !bytes.Equal(c.RawSubject, cur.RawIssuer) {
				continue
			}
			if cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
			if next == nil {
				next = c
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		in[next] = true
		cur = next
	}
	return chain
}

func publicOf(k crypto.PrivateKey) crypto.PublicKey {
	if s, ok := k.(crypto.Signer); ok {
		return s.Public()
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && eq.Equal(b)
}

// Select applies the reference's SSLCertSubject rules to the store and
// returns the chosen entry with its full subject (see FormatName):
//
//   - "*" selects the first certificate that has a private key, or the first
//     certificate when none has (TLSCertificate then fails with 273). The
//     reference says "random" for the property and "first" for
//     SSLConnectionRequest; first is deterministic.
//   - otherwise an exact match of the full subject, then a match ignoring
//     case and the spaces around ',' and '=', then the first subject that
//     contains the value, ignoring case. At each step a certificate with a
//     private key is preferred over one without.
//   - "" selects nothing: error 282 (could not find server certificate), as
//     the reference leaves no certificate selected for an empty subject.
//
// No match gives 272 (cannot find specified certificate); a store without
// certificates gives 282, or 272 when it holds only private keys.
func (s *Store) Select(subject string) (Entry, string, error) {
	var certEntries []Entry
	keyOnly := 0
	if s != nil {
		for _, e := range s.Entries {
			if len(e.Chain) > 0 {
				certEntries = append(certEntries, e)
			} else if e.Key != nil {
				keyOnly++
			}
		}
	}
	if len(certEntries) == 0 {
		if keyOnly > 0 {
			return Entry{}, "", newError(CodeCertNotFound, nil,
				"the store holds a private key but no X.509 certificate; a TLS server needs a certificate")
		}
		return Entry{}, "", newError(CodeServerCertNotFound, nil, "the store holds no certificate")
	}
	if strings.TrimSpace(subject) == "" {
		return Entry{}, "", newError(CodeServerCertNotFound, nil,
			"no certificate selected: SSLCertSubject is empty (use \"*\" for the first certificate with a private key)")
	}
	if subject == "*" {
		for _, e := range certEntries {
			if e.Key != nil {
				return e, e.Subject(), nil
			}
		}
		return certEntries[0], certEntries[0].Subject(), nil
	}

	want := strings.TrimSpace(subject)
	wantNorm := normalizeSubject(want)
	wantLower := strings.ToLower(want)
	stages := []func(full string) bool{
		func(full string) bool { return full == want },
		func(full string) bool { return normalizeSubject(full) == wantNorm },
		func(full string) bool {
			return strings.Contains(strings.ToLower(full), wantLower) ||
				strings.Contains(normalizeSubject(full), wantNorm)
		},
	}
	for _, match := range stages {
		var found *Entry
		for i := range certEntries {
			e := &certEntries[i]
			if !match(e.Subject()) {
				continue
			}
			if e.Key != nil {
				found = e
				break
			}
			if found == nil {
				found = e
			}
		}
		if found != nil {
			return *found, found.Subject(), nil
		}
	}
	var have []string
	for i, e := range certEntries {
		if i == 5 {
			have = append(have, "...")
			break
		}
		have = append(have, fmt.Sprintf("%q", e.Subject()))
	}
	return Entry{}, "", newError(CodeCertNotFound, nil,
		"no certificate in the store has subject %q or a subject containing it (the store holds %s)",
		subject, strings.Join(have, ", "))
}
