package certstore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// jwk is an RFC 7517 JSON Web Key with the RFC 7518 and RFC 8037 key
// parameters this package reads.
type jwk struct {
	Kty string            `json:"kty"`
	Kid string            `json:"kid"`
	Crv string            `json:"crv"`
	X   string            `json:"x"`
	Y   string            `json:"y"`
	D   string            `json:"d"`
	N   string            `json:"n"`
	E   string            `json:"e"`
	P   string            `json:"p"`
	Q   string            `json:"q"`
	Oth []json.RawMessage `json:"oth"`
	X5c []string          `json:"x5c"`
}

// parseJWK reads a JSON Web Key or a JWK Set (RFC 7517): the "x5c" chain of
// each key (standard base64 DER, leaf first, RFC 7517 section 4.7) and its
// private key when present: RSA (n, e, d, p, q; dp, dq and qi are
// recomputed), EC (crv P-256/P-384/P-521, x, y, d) and OKP Ed25519 (x, d).
// Keys with neither a certificate nor a private key (public keys without
// x5c, symmetric "oct" keys) are skipped.
func parseJWK(data []byte, desc string) ([]*x509.Certificate, []crypto.PrivateKey, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		d := decodeBlob(data)
		if t := bytes.TrimSpace(d); len(t) > 0 && t[0] == '{' {
			data = t
		}
	}
	var top struct {
		Keys json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, nil, newError(CodeOpenStore, err, "%s: not a JSON Web Key", desc)
	}
	var raws []json.RawMessage
	if top.Keys != nil {
		if err := json.Unmarshal(top.Keys, &raws); err != nil {
			return nil, nil, newError(CodeOpenStore, err, "%s: \"keys\" is not an array of JSON Web Keys", desc)
		}
	} else {
		raws = []json.RawMessage{data}
	}
	var (
		certs []*x509.Certificate
		keys  []crypto.PrivateKey
	)
	for i, raw := range raws {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, nil, newError(CodeOpenStore, err, "%s: key %d", desc, i+1)
		}
		which := fmt.Sprintf("key %d", i+1)
		if k.Kid != "" {
			which += fmt.Sprintf(" (kid %q)", k.Kid)
		}
		if k.Kty == "" {
			return nil, nil, newError(CodeOpenStore, nil, "%s: %s has no \"kty\"", desc, which)
		}
		for j, s := range k.X5c {
			der, err := decodeStdBase64(s)
			if err != nil {
				return nil, nil, newError(CodeOpenStore, err, "%s: %s: x5c[%d] is not base64", desc, which, j)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, nil, newError(CodeOpenStore, err, "%s: %s: x5c[%d]", desc, which, j)
			}
			certs = append(certs, c)
		}
		if k.D == "" {
			continue // a public key: only its x5c matters here
		}
		priv, err := k.privateKey()
		if err != nil {
			return nil, nil, newError(CodeOpenStore, err, "%s: %s", desc, which)
		}
		keys = append(keys, priv)
	}
	if len(certs) == 0 && len(keys) == 0 {
		return nil, nil, newError(CodeCertNotFound, nil,
			"%s holds no certificate (\"x5c\") and no private key", desc)
	}
	return certs, keys, nil
}

func decodeStdBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if d, err := base64.StdEncoding.DecodeString(s); err == nil {
		return d, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// b64url decodes a base64url JWK parameter (RFC 7515 section 2: no padding;
// padding is tolerated).
func b64url(name, s string) ([]byte, error) {
	d, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("parameter %q is not base64url: %w", name, err)
	}
	return d, nil
}

func (k *jwk) privateKey() (crypto.PrivateKey, error) {
	switch k.Kty {
	case "RSA":
		return k.rsaKey()
	case "EC":
		return k.ecKey()
	case "OKP":
		return k.okpKey()
	case "oct":
		return nil, errors.New("a symmetric (\"oct\") key cannot be a certificate key")
	}
	return nil, fmt.Errorf("key type %q is not supported (RSA, EC, OKP)", k.Kty)
}

func (k *jwk) rsaKey() (crypto.PrivateKey, error) {
	if len(k.Oth) > 0 {
		return nil, errors.New("multi-prime RSA keys (\"oth\") are not supported")
	}
	if k.P == "" || k.Q == "" {
		return nil, errors.New("RSA private keys without the primes \"p\" and \"q\" are not supported")
	}
	var vals [5]*big.Int
	for i, p := range []struct{ name, v string }{{"n", k.N}, {"e", k.E}, {"d", k.D}, {"p", k.P}, {"q", k.Q}} {
		if p.v == "" {
			return nil, fmt.Errorf("RSA key has no %q", p.name)
		}
		b, err := b64url(p.name, p.v)
		if err != nil {
			return nil, err
		}
		vals[i] = new(big.Int).SetBytes(b)
	}
	if !vals[1].IsInt64() || vals[1].Int64() < 3 || vals[1].Int64() > 1<<31-1 {
		return nil, errors.New("RSA public exponent \"e\" is out of range")
	}
	if vals[0].BitLen() > 16384 {
		return nil, errors.New("RSA modulus is larger than 16384 bits")
	}
	priv := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: vals[0], E: int(vals[1].Int64())},
		D:         vals[2],
		Primes:    []*big.Int{vals[3], vals[4]},
	}
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("invalid RSA key: %w", err)
	}
	priv.Precompute()
	return priv, nil
}

func (k *jwk) ecKey() (crypto.PrivateKey, error) {
	var curve elliptic.Curve
	switch k.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("EC curve %q is not supported (P-256, P-384, P-521)", k.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	d, err := b64url("d", k.D)
	if err != nil {
		return nil, err
	}
	if len(d) > size {
		return nil, errors.New("EC parameter \"d\" is too long for the curve")
	}
	d = leftPad(d, size)
	priv, err := ecdsa.ParseRawPrivateKey(curve, d)
	if err != nil {
		return nil, fmt.Errorf("invalid EC private key: %w", err)
	}
	if k.X != "" || k.Y != "" {
		x, err := b64url("x", k.X)
		if err != nil {
			return nil, err
		}
		y, err := b64url("y", k.Y)
		if err != nil {
			return nil, err
		}
		pub, err := priv.PublicKey.Bytes()
		if err != nil || len(x) > size || len(y) > size {
			return nil, errors.New("EC public point \"x\", \"y\" does not fit the curve")
		}
		want := append(append([]byte{4}, leftPad(x, size)...), leftPad(y, size)...)
		if !bytes.Equal(pub, want) {
			return nil, errors.New("EC public point \"x\", \"y\" does not match \"d\"")
		}
	}
	return priv, nil
}

func (k *jwk) okpKey() (crypto.PrivateKey, error) {
	if k.Crv != "Ed25519" {
		return nil, fmt.Errorf("OKP curve %q is not supported (Ed25519 only)", k.Crv)
	}
	seed, err := b64url("d", k.D)
	if err != nil {
		return nil, err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("Ed25519 \"d\" must be %d bytes", ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if k.X != "" {
		x, err := b64url("x", k.X)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(x, priv.Public().(ed25519.PublicKey)) {
			return nil, errors.New("Ed25519 public key \"x\" does not match \"d\"")
		}
	}
	return priv, nil
}

func leftPad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}
