// Package certtest makes certificates for the tests of certstore, tlsconf
// and the server: a CA and leaves with RSA, ECDSA P-256 or Ed25519 keys,
// valid or expired. It is for tests only.
package certtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"
)

// KeyType names a key algorithm.
type KeyType string

// The key types certtest makes.
const (
	RSA     KeyType = "rsa"
	ECDSA   KeyType = "ecdsa"
	Ed25519 KeyType = "ed25519"
)

// Cert is a certificate with its key.
type Cert struct {
	// Cert is the parsed certificate.
	Cert *x509.Certificate
	// Key is its private key.
	Key crypto.Signer
}

// CertPEM returns the certificate as a PEM block.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM returns the key as a PKCS#8 "PRIVATE KEY" PEM block.
func (c *Cert) KeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Options describe a certificate to make. Zero values get defaults: an ECDSA
// key, validity from an hour ago to a day from now, a serial number.
type Options struct {
	Subject     pkix.Name
	Key         KeyType
	NotBefore   time.Time
	NotAfter    time.Time
	IsCA        bool
	DNSNames    []string
	ExtKeyUsage []x509.ExtKeyUsage
	// SignatureAlgorithm overrides the issuer's default signature algorithm.
	SignatureAlgorithm x509.SignatureAlgorithm
}

var (
	rsaOnce sync.Once
	rsaKeys []*rsa.PrivateKey
	rsaNext int
	rsaMu   sync.Mutex
)

// RSAKey returns one of a few 2048-bit RSA keys generated once per process
// (RSA key generation is slow on a shared machine).
func RSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys = append(rsaKeys, k)
		}
	})
	rsaMu.Lock()
	defer rsaMu.Unlock()
	k := rsaKeys[rsaNext%len(rsaKeys)]
	rsaNext++
	return k
}

// NewKey makes a key of the type.
func NewKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	switch kt {
	case RSA:
		return RSAKey(t)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	default:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
}

var serial struct {
	sync.Mutex
	n int64
}

// New makes a certificate signed by issuer, or self-signed when issuer is
// nil.
func New(t testing.TB, issuer *Cert, o Options) *Cert {
	t.Helper()
	key := NewKey(t, o.Key)
	return NewWithKey(t, issuer, o, key)
}

// NewWithKey is New with a given key.
func NewWithKey(t testing.TB, issuer *Cert, o Options, key crypto.Signer) *Cert {
	t.Helper()
	serial.Lock()
	serial.n++
	sn := serial.n
	serial.Unlock()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(sn + now.UnixNano()%1_000_000*1000),
		Subject:               o.Subject,
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		BasicConstraintsValid: true,
		IsCA:                  o.IsCA,
		DNSNames:              o.DNSNames,
		ExtKeyUsage:           o.ExtKeyUsage,
		SignatureAlgorithm:    o.SignatureAlgorithm,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(24 * time.Hour)
	}
	if o.IsCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if _, ok := key.(*rsa.PrivateKey); ok {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
	}
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: c, Key: key}
}

// NewCA makes a self-signed ECDSA CA named cn, valid from 30 days ago to a
// year from now.
func NewCA(t testing.TB, cn string) *Cert {
	t.Helper()
	now := time.Now()
	return New(t, nil, Options{Subject: pkix.Name{CommonName: cn, Organization: []string{"Test CA Org"}}, IsCA: true,
		NotBefore: now.Add(-30 * 24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour)})
}

// NewLeaf makes a server/client leaf signed by ca with key type kt.
func NewLeaf(t testing.TB, ca *Cert, cn string, kt KeyType) *Cert {
	t.Helper()
	return New(t, ca, Options{
		Subject:     pkix.Name{CommonName: cn},
		Key:         kt,
		DNSNames:    []string{cn},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
}
