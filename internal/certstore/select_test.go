package certstore

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

// selectStore holds, in order: a CA without key, "www.server.com" without
// key, "www.server.com" with key, "mail.server.com, Inc." with key, and an
// expired "old.server.com" with key.
func selectStore(t *testing.T) (*Store, []*certtest.Cert) {
	ca := certtest.NewCA(t, "Server CA")
	mk := func(cn string, org string, notAfter time.Time) *certtest.Cert {
		o := certtest.Options{Subject: pkix.Name{CommonName: cn, Organization: []string{org}, Country: []string{"US"}}}
		if !notAfter.IsZero() {
			o.NotBefore, o.NotAfter = notAfter.Add(-48*time.Hour), notAfter
		}
		return certtest.New(t, ca, o)
	}
	nokey := mk("www.server.com", "NoKey", time.Time{})
	www := mk("www.server.com", "Example", time.Time{})
	mail := mk("mail.server.com", "Example, Inc.", time.Time{})
	old := mk("old.server.com", "Example", time.Now().Add(-24*time.Hour))
	var buf bytes.Buffer
	for _, c := range []*certtest.Cert{ca, nokey, www, mail, old} {
		buf.Write(c.CertPEM())
	}
	for _, c := range []*certtest.Cert{www, mail, old} {
		buf.Write(c.KeyPEM(t))
	}
	s := mustOpen(t, PEMKeyBlob, buf.Bytes(), "")
	if len(s.Entries) != 5 {
		t.Fatalf("%d entries", len(s.Entries))
	}
	return s, []*certtest.Cert{ca, nokey, www, mail, old}
}

func TestSelect_SSLCertSubject_ExactThenContains(t *testing.T) {
	// The reference: "a search is performed ... to locate a certificate with a
	// matching subject. ... If an exact match is not found, the store is
	// searched for subjects containing the value of the property."
	s, certs := selectStore(t)
	for _, tc := range []struct {
		subject string
		want    *x509.Certificate
		full    string
	}{
		// Exact: the keyed www wins over the keyless one with the same CN by
		// its full subject.
		{"CN=www.server.com, O=NoKey, C=US", certs[1].Cert, "CN=www.server.com, O=NoKey, C=US"},
		{"CN=www.server.com, O=Example, C=US", certs[2].Cert, "CN=www.server.com, O=Example, C=US"},
		// Case and spacing are ignored in the second pass.
		{"cn=www.server.com,o=example ,c=us", certs[2].Cert, "CN=www.server.com, O=Example, C=US"},
		// Contains, case-insensitive; the entry with a key is preferred.
		{"www.server.com", certs[2].Cert, "CN=www.server.com, O=Example, C=US"},
		{"WWW.SERVER", certs[2].Cert, "CN=www.server.com, O=Example, C=US"},
		// A quoted value with a comma.
		{`O="Example, Inc."`, certs[3].Cert, `CN=mail.server.com, O="Example, Inc.", C=US`},
		{"mail", certs[3].Cert, `CN=mail.server.com, O="Example, Inc.", C=US`},
		// Expired certificates are still selectable: validity is the TLS
		// layer's business.
		{"old.server.com", certs[4].Cert, "CN=old.server.com, O=Example, C=US"},
		// The CA (no key) when only it matches.
		{"Server CA", certs[0].Cert, "CN=Server CA, O=Test CA Org"},
	} {
		e, full, err := s.Select(tc.subject)
		if err != nil {
			t.Errorf("Select(%q): %v", tc.subject, err)
			continue
		}
		if e.Leaf() != nil && !bytes.Equal(e.Leaf().Raw, tc.want.Raw) || full != tc.full {
			t.Errorf("Select(%q) = %q, want %q", tc.subject, full, tc.full)
		}
		if full != e.Subject() {
			t.Errorf("returned subject %q != entry subject %q", full, e.Subject())
		}
	}
}

func TestSelect_SSLCertSubject_StarPicksFirstWithKey(t *testing.T) {
	// "*": the reference picks "a random certificate" (property) or "the first
	// certificate in the store" (SSLConnectionRequest); here the first one
	// with a private key.
	s, certs := selectStore(t)
	e, full, err := s.Select("*")
	if err != nil || !bytes.Equal(e.Leaf().Raw, certs[2].Cert.Raw) || e.Key == nil {
		t.Fatalf("Select(*) = %q, %v", full, err)
	}
	// Without keys, the first certificate (TLSCertificate then says 273).
	pub := mustOpen(t, PublicKeyBlob, append(certs[1].CertPEM(), certs[0].CertPEM()...), "")
	e, full, err = pub.Select("*")
	if err != nil || full != "CN=www.server.com, O=NoKey, C=US" {
		t.Fatalf("Select(*) without keys = %q, %v", full, err)
	}
	_, err = e.TLSCertificate()
	wantCode(t, err, CodeCredentials)
}

func TestSelect_SSLCertSubject_EmptyAndNotFound(t *testing.T) {
	// "If a match is still not found, the property is set to an empty
	// string, and no certificate is selected": 272. An empty subject selects
	// nothing: 282.
	s, _ := selectStore(t)
	_, full, err := s.Select("")
	wantCode(t, err, CodeServerCertNotFound, "SSLCertSubject is empty")
	if full != "" {
		t.Error("subject not empty")
	}
	_, _, err = s.Select("   ")
	wantCode(t, err, CodeServerCertNotFound)
	_, full, err = s.Select("CN=nothing.example")
	wantCode(t, err, CodeCertNotFound, `"CN=nothing.example"`, `"CN=Server CA, O=Test CA Org"`)
	if full != "" {
		t.Error("subject not empty")
	}

	var nilStore *Store
	_, _, err = nilStore.Select("*")
	wantCode(t, err, CodeServerCertNotFound, "holds no certificate")
	_, _, err = (&Store{}).Select("x")
	wantCode(t, err, CodeServerCertNotFound)
}
