package certstore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// errWrongPassword marks a password that does not decrypt a key or store.
var errWrongPassword = errors.New("wrong password")

// errNeedPassword marks an encrypted key or store opened without a password.
var errNeedPassword = errors.New("the private key is encrypted: set SSLCertStorePassword")

// decodeBlob returns the base64 decoding of b when b is base64 text (with
// any whitespace), and b itself otherwise. The reference's *Blob values are
// "binary or Base64-encoded".
func decodeBlob(b []byte) []byte {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || bytes.Contains(t, []byte("-----BEGIN")) {
		return b
	}
	var compact []byte
	for _, c := range t {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '+', c == '/', c == '=', c == '-', c == '_':
			compact = append(compact, c)
		case c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			return b
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(string(compact)); err == nil && len(d) > 0 {
			return d
		}
	}
	return b
}

// parsePEMOrDER reads certificates and private keys from PEM text, or from a
// DER certificate or key (binary or base64).
func parsePEMOrDER(data []byte, password, desc string) ([]*x509.Certificate, []crypto.PrivateKey, error) {
	if bytes.Contains(data, []byte("-----BEGIN")) {
		return parsePEM(data, password, desc)
	}
	d := decodeBlob(data)
	if bytes.Contains(d, []byte("-----BEGIN")) {
		return parsePEM(d, password, desc)
	}
	return parseDER(d, desc)
}

// parseDER reads one DER item: certificates, a private key, or a PKCS#7
// certificate bag.
func parseDER(der []byte, desc string) ([]*x509.Certificate, []crypto.PrivateKey, error) {
	if len(der) == 0 {
		return nil, nil, newError(CodeOpenStore, nil, "%s is empty", desc)
	}
	if certs, err := x509.ParseCertificates(der); err == nil && len(certs) > 0 {
		return certs, nil, nil
	}
	if k, err := parsePrivateKeyDER(der); err == nil {
		return nil, []crypto.PrivateKey{k}, nil
	}
	if certs, err := parseP7B(der); err == nil {
		return certs, nil, nil
	}
	return nil, nil, newError(CodeOpenStore, nil,
		"%s is neither PEM nor a DER certificate or private key", desc)
}

// parsePrivateKeyDER parses a PKCS#8, PKCS#1 RSA or SEC 1 EC private key.
func parsePrivateKeyDER(der []byte) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, PKCS#1 or EC private key")
}

// parsePEM reads every CERTIFICATE, PKCS7 and private key block of PEM text.
// Text around the blocks is ignored.
func parsePEM(data []byte, password, desc string) ([]*x509.Certificate, []crypto.PrivateKey, error) {
	var (
		certs  []*x509.Certificate
		keys   []crypto.PrivateKey
		other  []string
		blocks int
	)
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		switch block.Type {
		case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE":
			der := block.Bytes
			if block.Type == "TRUSTED CERTIFICATE" {
				// OpenSSL's trusted form: the certificate followed by trust data.
				var rv asn1.RawValue
				if _, err := asn1.Unmarshal(der, &rv); err == nil {
					der = rv.FullBytes
				}
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, nil, newError(CodeOpenStore, err, "%s: PEM block %d (%s)", desc, blocks, block.Type)
			}
			certs = append(certs, c)
		case "PKCS7", "PKCS #7 SIGNED DATA", "CMS":
			cs, err := parseP7B(block.Bytes)
			if err != nil {
				return nil, nil, newError(CodeOpenStore, err, "%s: PEM block %d (%s)", desc, blocks, block.Type)
			}
			certs = append(certs, cs...)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			k, err := decodePEMKey(block, password)
			if err != nil {
				e := newError(CodeOpenStore, nil, "%s: PEM block %d (%s): %v", desc, blocks, block.Type, err)
				e.Err = err
				return nil, nil, e
			}
			keys = append(keys, k)
		case "EC PARAMETERS":
		case "OPENSSH PRIVATE KEY":
			other = append(other, "an OpenSSH private key (convert it with `ssh-keygen -p -m PEM`, and add its certificate)")
		case "PUBLIC KEY", "RSA PUBLIC KEY":
			other = append(other, "a bare public key (a certificate is needed)")
		case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
			other = append(other, "a certificate request (the signed certificate is needed)")
		case "DSA PRIVATE KEY":
			other = append(other, "a DSA private key (TLS in Go supports RSA, ECDSA and Ed25519 keys only)")
		default:
			other = append(other, fmt.Sprintf("a %q block", block.Type))
		}
	}
	if blocks == 0 {
		return nil, nil, newError(CodeOpenStore, nil, "%s holds no PEM block", desc)
	}
	if len(certs) == 0 && len(keys) == 0 {
		found := "no certificate or private key"
		if len(other) > 0 {
			found = "only " + strings.Join(other, ", ")
		}
		return nil, nil, newError(CodeCertNotFound, nil, "%s holds %s", desc, found)
	}
	return certs, keys, nil
}

// decodePEMKey decodes a private key block, decrypting it with password
// when it is encrypted.
func decodePEMKey(block *pem.Block, password string) (crypto.PrivateKey, error) {
	der := block.Bytes
	//lint:ignore SA1019 legacy RFC 1423 keys are still produced by openssl rsa -des3
	if x509.IsEncryptedPEMBlock(block) { //nolint:staticcheck
		if password == "" {
			return nil, errNeedPassword
		}
		//lint:ignore SA1019 see above
		d, err := x509.DecryptPEMBlock(block, []byte(password)) //nolint:staticcheck
		if err != nil {
			if errors.Is(err, x509.IncorrectPasswordError) {
				return nil, errWrongPassword
			}
			return nil, fmt.Errorf("legacy PEM encryption: %w", err)
		}
		k, err := parseKeyOfType(block.Type, d)
		if err != nil {
			// RFC 1423 has no integrity check: a wrong password shows as garbage.
			return nil, errWrongPassword
		}
		return k, nil
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		if password == "" {
			return nil, errNeedPassword
		}
		d, err := decryptPKCS8(der, password)
		if err != nil {
			return nil, err
		}
		k, err := x509.ParsePKCS8PrivateKey(d)
		if err != nil {
			return nil, errWrongPassword
		}
		return k, nil
	}
	return parseKeyOfType(block.Type, der)
}

func parseKeyOfType(typ string, der []byte) (crypto.PrivateKey, error) {
	switch typ {
	case "RSA PRIVATE KEY":
		if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
			return k, nil
		}
	case "EC PRIVATE KEY":
		if k, err := x509.ParseECPrivateKey(der); err == nil {
			return k, nil
		}
	}
	// Labels are not always right (some tools write PKCS#1 as "PRIVATE KEY").
	return parsePrivateKeyDER(der)
}
