package certstore

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }

var oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

func TestStoreType_String_TipwCertStoreTypes(t *testing.T) {
	// The reference's TipwCertStoreTypes numbering (SSLCertStoreType).
	want := map[StoreType]string{
		0: "User", 1: "Machine", 2: "PFXFile", 3: "PFXBlob", 4: "JKSFile", 5: "JKSBlob",
		6: "PEMKeyFile", 7: "PEMKeyBlob", 8: "PublicKeyFile", 9: "PublicKeyBlob",
		10: "SSHPublicKeyBlob", 11: "P7BFile", 12: "P7BBlob", 13: "SSHPublicKeyFile",
		14: "PPKFile", 15: "PPKBlob", 16: "XMLFile", 17: "XMLBlob", 18: "JWKFile",
		19: "JWKBlob", 20: "SecurityKey", 21: "BCFKSFile", 22: "BCFKSBlob", 23: "PKCS11", 99: "Auto",
	}
	for n, name := range want {
		if got := n.String(); got != name {
			t.Errorf("StoreType(%d).String() = %q, want %q", int(n), got, name)
		}
		if !n.Valid() {
			t.Errorf("StoreType(%d) not valid", int(n))
		}
	}
	if got := StoreType(42).String(); got != "StoreType(42)" {
		t.Errorf("String of unknown = %q", got)
	}
	if StoreType(42).Valid() || StoreType(24).Valid() {
		t.Error("24/42 reported valid")
	}
	if !PFXFile.IsFile() || PFXBlob.IsFile() || Auto.IsFile() || !JWKFile.IsFile() {
		t.Error("IsFile wrong")
	}
}

func TestFormatName_SSLCertSubject_Format(t *testing.T) {
	// The reference: "CN=www.server.com, OU=test, C=US, E=support@nsoftware.com";
	// "If a field value contains a comma, it must be quoted."
	name := pkix.Name{
		Country:            []string{"US"},
		Province:           []string{"North Carolina"},
		Locality:           []string{"Chapel Hill"},
		Organization:       []string{"Example, Inc."},
		OrganizationalUnit: []string{"test"},
		CommonName:         "www.server.com",
		ExtraNames:         []pkix.AttributeTypeAndValue{{Type: oidEmail, Value: "support@example.com"}},
	}
	c := certtest.New(t, nil, certtest.Options{Subject: name})
	// pkix.Name encodes C, ST, L, O, OU, CN, then ExtraNames; the string is
	// the reverse.
	want := `E=support@example.com, CN=www.server.com, OU=test, O="Example, Inc.", L=Chapel Hill, S=North Carolina, C=US`
	if got := Subject(c.Cert); got != want {
		t.Errorf("Subject = %q\nwant      %q", got, want)
	}
	if got := Issuer(c.Cert); got != want {
		t.Errorf("Issuer of self-signed = %q", got)
	}

	// Quoting rules, multi-valued RDNs and unknown OIDs.
	rdns := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "US"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: `Say "Hi"`}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "a"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "b"}},
		{{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: " x"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "a=b"}},
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	want = `CN="a=b", 1.2.3.4=" x", OU=a + OU=b, O="Say ""Hi""", C=US`
	if got := FormatName(der); got != want {
		t.Errorf("FormatName = %q\nwant         %q", got, want)
	}
	if got := FormatName([]byte{0x30, 0x05}); got != "" {
		t.Errorf("FormatName(garbage) = %q", got)
	}
	if Subject(nil) != "" || Issuer(nil) != "" {
		t.Error("nil certificate")
	}
}

func TestNormalizeSubject_IgnoresCaseAndSpaces(t *testing.T) {
	if normalizeSubject("cn = www.server.com ,O=\"A, B\"") != normalizeSubject(`CN=www.server.com, O="A, B"`) {
		t.Error("normalized subjects differ")
	}
	if got := splitSubject(`CN=a, O="b, c", C=US`); len(got) != 3 || got[1] != `O="b, c"` {
		t.Errorf("splitSubject = %q", got)
	}
}
