package certstore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
)

// pfxHeader is the start of a PKCS#12 PFX (RFC 7292): version 3, then the
// authSafe ContentInfo.
type pfxHeader struct {
	Version  int
	AuthSafe contentInfo
	MacData  asn1.RawValue `asn1:"optional"`
}

// parseAuto detects the format of data and parses it (cstAuto). It returns
// the detected type.
func parseAuto(data []byte, password, desc string) (StoreType, []*x509.Certificate, []crypto.PrivateKey, error) {
	return detectAndParse(data, password, desc, true)
}

func detectAndParse(data []byte, password, desc string, tryBase64 bool) (StoreType, []*x509.Certificate, []crypto.PrivateKey, error) {
	t := bytes.TrimSpace(data)
	switch {
	case len(t) == 0:
		return Auto, nil, nil, newError(CodeOpenStore, nil, "%s is empty", desc)
	case t[0] == '{':
		certs, keys, err := parseJWK(t, desc)
		return JWKBlob, certs, keys, err
	case bytes.HasPrefix(t, []byte("PuTTY-User-Key-File-")):
		return PPKBlob, nil, nil, newError(CodeCertNotFound, nil,
			"%s is a PuTTY private key (PPK), which holds no X.509 certificate and cannot be a TLS server certificate", desc)
	case isSSHPublicKey(t):
		return SSHPublicKeyBlob, nil, nil, newError(CodeCertNotFound, nil,
			"%s is an SSH public key, which holds no X.509 certificate and cannot be a TLS server certificate", desc)
	case t[0] == '<':
		return XMLBlob, nil, nil, newError(CodeCertNotFound, nil,
			"%s is XML; the .NET XML key format holds no X.509 certificate and cannot be a TLS server certificate", desc)
	case bytes.Contains(t, []byte("-----BEGIN")):
		if bytes.Contains(t, []byte("-----BEGIN PKCS7")) || bytes.Contains(t, []byte("-----BEGIN CMS")) {
			if certs, err := parseP7BData(t, desc); err == nil || !bytes.Contains(t, []byte("-----BEGIN CERT")) {
				return P7BBlob, certs, nil, err
			}
		}
		certs, keys, err := parsePEM(t, password, desc)
		if err == nil && len(keys) == 0 {
			return PublicKeyBlob, certs, nil, nil
		}
		return PEMKeyBlob, certs, keys, err
	case len(data) >= 4 && bytes.Equal(data[:4], []byte{0xFE, 0xED, 0xFE, 0xED}):
		return JKSBlob, nil, nil, newError(CodeOpenStore, nil,
			"%s is a Java Key Store, which only the Java edition reads: convert it to PFX with keytool", desc)
	case data[0] == 0x30:
		var pfx pfxHeader
		if _, err := asn1.Unmarshal(data, &pfx); err == nil && pfx.Version == 3 {
			certs, keys, err := parsePFX(data, password, desc)
			return PFXBlob, certs, keys, err
		}
		var ci contentInfo
		if _, err := asn1.Unmarshal(data, &ci); err == nil && ci.ContentType.Equal(oidSignedData) {
			certs, err := parseP7B(data)
			if err != nil {
				return P7BBlob, nil, nil, newError(CodeOpenStore, err, "%s", desc)
			}
			return P7BBlob, certs, nil, nil
		}
		if certs, err := x509.ParseCertificates(data); err == nil && len(certs) > 0 {
			return PublicKeyBlob, certs, nil, nil
		}
		if k, err := parsePrivateKeyDER(data); err == nil {
			return PEMKeyBlob, nil, []crypto.PrivateKey{k}, nil
		}
	}
	if tryBase64 {
		if d := decodeBlob(t); !bytes.Equal(d, t) {
			return detectAndParse(d, password, desc, false)
		}
	}
	return Auto, nil, nil, newError(CodeOpenStore, nil,
		"%s: format not recognized (PFX, PEM, JWK, PKCS#7, DER certificate or key; binary or base64)", desc)
}

func isSSHPublicKey(t []byte) bool {
	for _, p := range []string{"ssh-rsa ", "ssh-dss ", "ssh-ed25519 ", "ssh-ed448 ", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-", "---- BEGIN SSH2 PUBLIC KEY"} {
		if bytes.HasPrefix(t, []byte(p)) {
			return true
		}
	}
	return false
}
