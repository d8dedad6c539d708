package certstore

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
)

// attrNames are the short names used in subject strings. The reference
// lists CN, O, OU, L, S, C and E; the others follow Windows' CertNameToStr.
var attrNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "S",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "T",
	"2.5.4.17":                   "PostalCode",
	"2.5.4.42":                   "G",
	"2.5.4.43":                   "I",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "E",
}

// FormatName formats a DER-encoded X.501 Name (a certificate's RawSubject or
// RawIssuer) in the reference's subject format:
//
//	CN=www.server.com, OU=test, O=Example, C=US, E=support@example.com
//
// Field order: the reverse of the encoded order (as RFC 4514 and .NET's
// X500DistinguishedName do), so the usual encoding C, O, OU, CN gives
// "CN=..., OU=..., O=..., C=...". Fields are separated by ", "; the values of
// a multi-valued RDN are joined with " + ". Attribute names are CN, O, OU, L,
// S (state), C, E (emailAddress), STREET, T, G, I, SN, SERIALNUMBER, DC, UID,
// PostalCode; other attributes use their dotted OID. A value that contains a
// comma, '+', '=', '"', ';', '<', '>', '#', a line break, or leading/trailing
// spaces is wrapped in double quotes with inner quotes doubled (the reference:
// "If a field value contains a comma, it must be quoted"). Non-string values
// are written as '#' and their DER in hex.
//
// A name that does not parse gives "".
func FormatName(raw []byte) string {
	var rdns pkix.RDNSequence
	rest, err := asn1.Unmarshal(raw, &rdns)
	if err != nil || len(rest) != 0 {
		return ""
	}
	return FormatRDNSequence(rdns)
}

// FormatRDNSequence formats an already parsed name; see FormatName.
func FormatRDNSequence(rdns pkix.RDNSequence) string {
	var parts []string
	for i := len(rdns) - 1; i >= 0; i-- {
		var vals []string
		for _, atv := range rdns[i] {
			vals = append(vals, attrName(atv.Type)+"="+quoteValue(attrValue(atv.Value)))
		}
		if len(vals) > 0 {
			parts = append(parts, strings.Join(vals, " + "))
		}
	}
	return strings.Join(parts, ", ")
}

// Subject returns the certificate's subject in the reference's format.
func Subject(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	return FormatName(c.RawSubject)
}

// Issuer returns the certificate's issuer in the reference's format.
func Issuer(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	return FormatName(c.RawIssuer)
}

func attrName(oid asn1.ObjectIdentifier) string {
	s := oid.String()
	if n, ok := attrNames[s]; ok {
		return n
	}
	return s
}

func attrValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return "#" + hex.EncodeToString(v)
	default:
		if der, err := asn1.Marshal(v); err == nil {
			return "#" + hex.EncodeToString(der)
		}
		return fmt.Sprint(v)
	}
}

func quoteValue(v string) string {
	if v == "" {
		return v
	}
	needs := strings.ContainsAny(v, ",+=\";<>#\r\n") ||
		v[0] == ' ' || v[len(v)-1] == ' '
	if !needs {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
}

// splitSubject splits a subject string on the commas that are outside
// double quotes, trimming spaces. It is used to compare subjects loosely.
func splitSubject(s string) []string {
	var parts []string
	var b strings.Builder
	inQuote := false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
			b.WriteRune(r)
		case r == ',' && !inQuote:
			parts = append(parts, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteRune(r)
		}
	}
	parts = append(parts, strings.TrimSpace(b.String()))
	return parts
}

// normalizeSubject lowercases a subject and removes the spaces around the
// separators and around '=' so "cn = a,o=b" equals "CN=a, O=b".
func normalizeSubject(s string) string {
	parts := splitSubject(s)
	for i, p := range parts {
		if k, v, ok := strings.Cut(p, "="); ok {
			p = strings.TrimSpace(k) + "=" + strings.TrimSpace(v)
		}
		parts[i] = strings.ToLower(p)
	}
	return strings.Join(parts, ",")
}
