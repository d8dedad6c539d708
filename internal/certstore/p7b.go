package certstore

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
)

// oidSignedData is PKCS#7 / CMS signedData (RFC 2315, RFC 5652).
var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// contentInfo is RFC 5652 ContentInfo.
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

// signedData is RFC 5652 SignedData; only the certificates are used.
type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo asn1.RawValue
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      asn1.RawValue
}

// parseP7B returns the certificates of a DER PKCS#7 SignedData, such as a
// "certs-only" .p7b bag. Only DER is read: encoding/asn1 rejects BER's
// indefinite lengths.
func parseP7B(der []byte) ([]*x509.Certificate, error) {
	var ci contentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS#7 ContentInfo: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing data after PKCS#7 ContentInfo")
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("PKCS#7 content type %s is not signedData", ci.ContentType)
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("malformed PKCS#7 SignedData: %w", err)
	}
	var certs []*x509.Certificate
	b := sd.Certificates.Bytes
	for len(b) > 0 {
		var rv asn1.RawValue
		b, err = asn1.Unmarshal(b, &rv)
		if err != nil {
			return nil, fmt.Errorf("malformed PKCS#7 certificate set: %w", err)
		}
		// CertificateChoices: only the plain Certificate (a SEQUENCE) is used;
		// the old extended and attribute certificate forms are skipped.
		if rv.Class != asn1.ClassUniversal || rv.Tag != asn1.TagSequence {
			continue
		}
		c, err := x509.ParseCertificate(rv.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS#7 certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// parseP7BData reads a P7B store: PEM ("PKCS7" or "CMS" blocks), DER, or
// base64 DER.
func parseP7BData(data []byte, desc string) ([]*x509.Certificate, error) {
	if bytes.Contains(data, []byte("-----BEGIN")) {
		var certs []*x509.Certificate
		rest := data
		n := 0
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			switch block.Type {
			case "PKCS7", "PKCS #7 SIGNED DATA", "CMS":
				n++
				cs, err := parseP7B(block.Bytes)
				if err != nil {
					return nil, newError(CodeOpenStore, err, "%s", desc)
				}
				certs = append(certs, cs...)
			}
		}
		if n == 0 {
			return nil, newError(CodeOpenStore, nil, "%s holds no PKCS7 PEM block", desc)
		}
		return certs, nil
	}
	certs, err := parseP7B(decodeBlob(data))
	if err != nil {
		return nil, newError(CodeOpenStore, err, "%s", desc)
	}
	return certs, nil
}
