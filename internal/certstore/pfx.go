package certstore

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// parsePFX decodes a DER PKCS#12 file with go-pkcs12 (modern PBES2/AES and
// PBMAC1, and legacy 3DES/RC2 encryption).
func parsePFX(der []byte, password, desc string) (certs []*x509.Certificate, keys []crypto.PrivateKey, err error) {
	defer func() {
		// go-pkcs12 parses untrusted input; never let it take the server down.
		if r := recover(); r != nil {
			certs, keys = nil, nil
			err = newError(CodeOpenStore, fmt.Errorf("pkcs12: panic: %v", r), "%s: not a valid PFX (PKCS#12) file", desc)
		}
	}()
	if n := pfxMacIterations(der); n > maxPBKDF2Iterations {
		return nil, nil, newError(CodeOpenStore, nil,
			"%s: MAC iteration count %d is out of range (1..%d)", desc, n, maxPBKDF2Iterations)
	}
	key, leaf, cas, derr := pkcs12.DecodeChain(der, password)
	if derr == nil {
		return append([]*x509.Certificate{leaf}, cas...), []crypto.PrivateKey{key}, nil
	}
	switch msg := derr.Error(); {
	case errors.Is(derr, pkcs12.ErrIncorrectPassword), errors.Is(derr, pkcs12.ErrDecryption):
		detail := "wrong password"
		if password == "" {
			detail = "the file is password-protected: set SSLCertStorePassword"
		}
		e := newError(CodeOpenStore, nil, "%s: %s", desc, detail)
		e.Err = derr
		return nil, nil, e
	case strings.Contains(msg, "private key missing"):
		// A certificates-only PFX. go-pkcs12 lists those only when they are
		// Java trust stores.
		if cs, terr := pkcs12.DecodeTrustStore(der, password); terr == nil && len(cs) > 0 {
			return cs, nil, nil
		}
		return nil, nil, newError(CodeCredentials, derr, "%s holds no private key", desc)
	case strings.Contains(msg, "exactly one key bag"):
		return nil, nil, newError(CodeOpenStore, derr,
			"%s holds more than one private key, which is not supported: export one certificate and its key per file", desc)
	case strings.Contains(msg, "certificate missing"):
		return nil, nil, newError(CodeCertNotFound, derr, "%s holds no certificate", desc)
	case strings.Contains(msg, "error reading P12 data"):
		return nil, nil, newError(CodeOpenStore, derr, "%s: not a valid PFX (PKCS#12) file (DER only; BER is not supported)", desc)
	}
	var ni pkcs12.NotImplementedError
	if errors.As(derr, &ni) {
		return nil, nil, newError(CodeOpenStore, derr, "%s uses a PKCS#12 feature that is not supported", desc)
	}
	return nil, nil, newError(CodeOpenStore, derr, "%s: not a valid PFX (PKCS#12) file", desc)
}

// pfxMacIterations returns the iteration count of a PFX's MacData (RFC 7292
// section 4), 0 when there is none or der does not parse. go-pkcs12 does not
// bound it, and a huge count would stall the server.
func pfxMacIterations(der []byte) int {
	var hdr pfxHeader
	if _, err := asn1.Unmarshal(der, &hdr); err != nil || len(hdr.MacData.FullBytes) == 0 {
		return 0
	}
	var mac struct {
		Mac        asn1.RawValue
		Salt       []byte
		Iterations int `asn1:"optional,default:1"`
	}
	if _, err := asn1.Unmarshal(hdr.MacData.FullBytes, &mac); err != nil {
		return 0
	}
	return mac.Iterations
}
