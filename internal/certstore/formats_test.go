package certstore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

// makeP7B builds a "certs-only" PKCS#7 SignedData (RFC 2315 section 9.1,
// RFC 5652 section 5.1) holding certs.
func makeP7B(t *testing.T, certs ...*x509.Certificate) []byte {
	t.Helper()
	var set []byte
	for _, c := range certs {
		set = append(set, c.Raw...)
	}
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	emptySet := asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true}
	sd := must(asn1.Marshal(struct {
		Version      int
		Digests      asn1.RawValue
		Encap        struct{ Type asn1.ObjectIdentifier }
		Certificates asn1.RawValue
		SignerInfos  asn1.RawValue
	}{
		1, emptySet,
		struct{ Type asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}},
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: set},
		emptySet,
	}))
	return must(asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{oidSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}}))
}

func TestOpen_P7B_RFC2315_CertsOnly(t *testing.T) {
	// cstP7BFile/cstP7BBlob: a PKCS#7 file containing certificates, DER or
	// PEM; no private keys.
	fx := newChain(t, certtest.ECDSA, "p7b.example")
	der := makeP7B(t, fx.ca.Cert, fx.leaf.Cert, fx.inter.Cert)
	for name, data := range map[string][]byte{
		"DER":    der,
		"PEM":    pemOf("PKCS7", der),
		"base64": []byte(base64.StdEncoding.EncodeToString(der)),
	} {
		t.Run(name, func(t *testing.T) {
			s := mustOpen(t, P7BBlob, data, "")
			if len(s.Entries) != 3 {
				t.Fatalf("%d entries", len(s.Entries))
			}
			e, subj, err := s.Select("p7b.example")
			if err != nil || subj != "CN=p7b.example" {
				t.Fatalf("select: %q %v", subj, err)
			}
			if len(e.Chain) != 3 || e.Chain[1] != s.Entries[2].Chain[0] {
				t.Fatal("chain not built from the bag")
			}
			_, err = e.TLSCertificate()
			wantCode(t, err, CodeCredentials, "no private key")
		})
	}
	p := writeFile(t, "bag.p7b", der)
	if s := mustOpen(t, P7BFile, []byte(p), ""); len(s.Entries) != 3 {
		t.Fatal("P7BFile")
	}

	t.Run("openssl crl2pkcs7", func(t *testing.T) {
		dir := pfxDir(t, fx)
		openssl(t, dir, false, "crl2pkcs7", "-nocrl", "-certfile", "leaf.pem", "-certfile", "chain.pem", "-out", "o.p7b")
		openssl(t, dir, false, "crl2pkcs7", "-nocrl", "-certfile", "leaf.pem", "-outform", "DER", "-out", "o.p7b.der")
		s := mustOpen(t, P7BFile, []byte(filepath.Join(dir, "o.p7b")), "")
		if len(s.Entries) != 3 {
			t.Fatalf("%d entries", len(s.Entries))
		}
		s = mustOpen(t, Auto, []byte(filepath.Join(dir, "o.p7b.der")), "")
		if s.Type != P7BBlob || len(s.Entries) != 1 {
			t.Fatalf("auto: %s %d", s.Type, len(s.Entries))
		}
	})

	_, err := Open(P7BBlob, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), "")
	wantCode(t, err, CodeOpenStore, "no PKCS7 PEM block")
	_, err = Open(P7BBlob, fx.leaf.Cert.Raw, "")
	wantCode(t, err, CodeOpenStore, "PKCS#7")
	_, err = Open(P7BFile, []byte("/nonexistent.p7b"), "")
	wantCode(t, err, CodeOpenStore, `PKCS#7 file "/nonexistent.p7b"`)
	_, err = Open(P7BBlob, makeP7B(t), "")
	wantCode(t, err, CodeCertNotFound, "no certificate and no private key")
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf renders a private key as an RFC 7517 JWK with an x5c chain.
func jwkOf(t *testing.T, key any, chain ...*x509.Certificate) map[string]any {
	t.Helper()
	m := map[string]any{}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		m["kty"] = "RSA"
		m["n"] = b64u(k.N.Bytes())
		m["e"] = b64u(big.NewInt(int64(k.E)).Bytes())
		m["d"] = b64u(k.D.Bytes())
		m["p"] = b64u(k.Primes[0].Bytes())
		m["q"] = b64u(k.Primes[1].Bytes())
		m["dp"] = b64u(k.Precomputed.Dp.Bytes())
	case *ecdsa.PrivateKey:
		pub, _ := k.PublicKey.Bytes()
		d, _ := k.Bytes()
		size := (len(pub) - 1) / 2
		m["kty"], m["crv"] = "EC", "P-256"
		m["x"], m["y"], m["d"] = b64u(pub[1:1+size]), b64u(pub[1+size:]), b64u(d)
	case ed25519.PrivateKey:
		m["kty"], m["crv"] = "OKP", "Ed25519"
		m["x"], m["d"] = b64u(k.Public().(ed25519.PublicKey)), b64u(k.Seed())
	}
	var x5c []string
	for _, c := range chain {
		x5c = append(x5c, base64.StdEncoding.EncodeToString(c.Raw))
	}
	if x5c != nil {
		m["x5c"] = x5c
	}
	return m
}

func jsonOf(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpen_JWK_RFC7517_KeysWithX5c(t *testing.T) {
	// RFC 7517 JWK and JWK Set; RFC 7518 RSA/EC and RFC 8037 OKP private keys;
	// the certificate comes from "x5c".
	for _, kt := range []certtest.KeyType{certtest.RSA, certtest.ECDSA, certtest.Ed25519} {
		t.Run(string(kt), func(t *testing.T) {
			fx := newChain(t, kt, "jwk-"+string(kt)+".example")
			key := jwkOf(t, fx.leaf.Key, fx.leaf.Cert, fx.inter.Cert)
			checkServerEntry(t, mustOpen(t, JWKBlob, jsonOf(t, key), ""), fx, 2)
			set := map[string]any{"keys": []any{map[string]any{"kty": "oct", "k": "AAAA"}, key}}
			p := writeFile(t, "k.jwks", jsonOf(t, set))
			checkServerEntry(t, mustOpen(t, JWKFile, []byte(p), ""), fx, 2)
			s := mustOpen(t, Auto, []byte(p), "")
			if s.Type != JWKBlob {
				t.Fatalf("auto type %s", s.Type)
			}
		})
	}
}

func TestOpen_JWK_Errors(t *testing.T) {
	fx := newChain(t, certtest.ECDSA, "jwkerr.example")
	good := jwkOf(t, fx.leaf.Key, fx.leaf.Cert)
	with := func(k, v string) []byte {
		m := map[string]any{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return jsonOf(t, m)
	}
	// Public key with x5c: a certificate without key.
	pub := with("d", "")
	s := mustOpen(t, JWKBlob, pub, "")
	if len(s.Entries) != 1 || s.Entries[0].Key != nil {
		t.Fatal("public JWK")
	}
	// Private key without x5c: a key-only store.
	s = mustOpen(t, JWKBlob, jsonOf(t, jwkOf(t, fx.leaf.Key)), "")
	_, _, err := s.Select("*")
	wantCode(t, err, CodeCertNotFound, "no X.509 certificate")

	for _, tc := range []struct {
		data []byte
		code int
		frag string
	}{
		{[]byte(`{"kty":`), CodeOpenStore, "not a JSON Web Key"},
		{[]byte(`{"keys":3}`), CodeOpenStore, `"keys" is not an array`},
		{[]byte(`{"keys":[]}`), CodeCertNotFound, `no certificate ("x5c") and no private key`},
		{[]byte(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`), CodeCertNotFound, "no certificate"},
		{[]byte(`{"d":"AA"}`), CodeOpenStore, `has no "kty"`},
		{with("crv", "secp256k1"), CodeOpenStore, `EC curve "secp256k1" is not supported`},
		{with("x", b64u(make([]byte, 32))), CodeOpenStore, "does not match"},
		{with("d", "!!"), CodeOpenStore, "not base64url"},
		{[]byte(`{"kty":"OKP","crv":"X25519","d":"AAAA"}`), CodeOpenStore, `OKP curve "X25519" is not supported`},
		{[]byte(`{"kty":"OKP","crv":"Ed25519","d":"AAAA"}`), CodeOpenStore, "must be 32 bytes"},
		{[]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}`), CodeOpenStore, `without the primes`},
		{[]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB","p":"Aw","q":"BQ"}`), CodeOpenStore, "invalid RSA key"},
		{[]byte(`{"kty":"oct","d":"AQAB"}`), CodeOpenStore, "symmetric"},
		{[]byte(`{"kty":"XYZ","d":"AQAB"}`), CodeOpenStore, `key type "XYZ" is not supported`},
		{[]byte(`{"kty":"EC","x5c":["***"]}`), CodeOpenStore, "x5c[0] is not base64"},
		{[]byte(`{"kty":"EC","x5c":["AAAA"]}`), CodeOpenStore, "x5c[0]"},
	} {
		_, err := Open(JWKBlob, tc.data, "")
		wantCode(t, err, tc.code, tc.frag)
	}
	_, err = Open(JWKFile, []byte("/nonexistent.jwk"), "")
	wantCode(t, err, CodeOpenStore, `JWK file "/nonexistent.jwk": file does not exist`)
	// base64 of the JSON is accepted as a blob.
	if _, err := Open(JWKBlob, []byte(base64.StdEncoding.EncodeToString(pub)), ""); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_Auto_DetectsFormats(t *testing.T) {
	// cstAuto: "The store type is automatically detected from the input data."
	fx := newChain(t, certtest.ECDSA, "auto.example")
	pemKey := append(fx.leaf.CertPEM(), fx.leaf.KeyPEM(t)...)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(fx.leaf.Key)
	p7 := makeP7B(t, fx.leaf.Cert)
	for _, tc := range []struct {
		name string
		data []byte
		want StoreType
	}{
		{"PEM key+cert", pemKey, PEMKeyBlob},
		{"PEM cert only", fx.leaf.CertPEM(), PublicKeyBlob},
		{"PEM PKCS7", pemOf("PKCS7", p7), P7BBlob},
		{"DER PKCS7", p7, P7BBlob},
		{"DER certificate", fx.leaf.Cert.Raw, PublicKeyBlob},
		{"DER key", keyDER, PEMKeyBlob},
		{"base64 DER certificate", []byte(base64.StdEncoding.EncodeToString(fx.leaf.Cert.Raw)), PublicKeyBlob},
		{"JWK", jsonOf(t, jwkOf(t, fx.leaf.Key, fx.leaf.Cert)), JWKBlob},
		{"file name", []byte(writeFile(t, "auto.pem", pemKey)), PEMKeyBlob},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t, Auto, tc.data, "")
			if s.Type != tc.want {
				t.Fatalf("type %s, want %s", s.Type, tc.want)
			}
			_, subj, err := s.Select("*")
			if tc.name == "DER key" {
				wantCode(t, err, CodeCertNotFound, "no X.509 certificate")
			} else if err != nil || subj != "CN=auto.example" {
				t.Fatalf("select %q %v", subj, err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		data string
		code int
		frag string
	}{
		{"SSH public key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ test", CodeCertNotFound, "SSH public key"},
		{"SSH2 public key", "---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----", CodeCertNotFound, "SSH public key"},
		{"PPK", "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\n", CodeCertNotFound, "PuTTY"},
		{"XML", "<RSAKeyValue><Modulus>AQAB</Modulus></RSAKeyValue>", CodeCertNotFound, "XML"},
		{"JKS", "\xfe\xed\xfe\xed\x00\x00\x00\x02", CodeOpenStore, "Java Key Store"},
		{"garbage", "\x01\x02\x03", CodeOpenStore, "format not recognized"},
		{"empty", "  ", CodeOpenStore, "empty"},
		{"missing file", "/nonexistent/server.pfx", CodeOpenStore, `"/nonexistent/server.pfx" is neither a readable file (file does not exist) nor certificate content`},
		{"bad DER PKCS7", "\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02\xa0\x00", CodeOpenStore, "PKCS#7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(Auto, []byte(tc.data), "")
			wantCode(t, err, tc.code, tc.frag)
		})
	}
}

func TestOpen_UnsupportedStoreTypes(t *testing.T) {
	// Store types that cannot work on Linux or cannot hold an X.509
	// certificate fail with the code the reference implies and say why.
	p := writeFile(t, "k", []byte("anything"))
	for _, tc := range []struct {
		typ  StoreType
		code int
		frag string
	}{
		{User, CodeOpenStore, "Windows certificate stores (User/Machine) do not exist on Linux: use a PEM or PFX file"},
		{Machine, CodeOpenStore, `Machine store "MY"`},
		{JKSFile, CodeOpenStore, "Java Key Stores are only supported by the Java edition"},
		{JKSBlob, CodeOpenStore, "keytool"},
		{BCFKSFile, CodeOpenStore, "Bouncy Castle FIPS"},
		{BCFKSBlob, CodeOpenStore, "Java and .NET"},
		{PKCS11, CodeSecurityLibrary, "PKCS#11 module"},
		{SecurityKey, CodeSecurityLibrary, "PKCS#11"},
		{SSHPublicKeyBlob, CodeCertNotFound, "SSH public key holds no X.509 certificate"},
		{SSHPublicKeyFile, CodeCertNotFound, "SSH public key file"},
		{PPKFile, CodeCertNotFound, "PuTTY private key (PPK)"},
		{PPKBlob, CodeCertNotFound, "PPK"},
		{XMLFile, CodeCertNotFound, "RSAKeyValue"},
		{XMLBlob, CodeCertNotFound, "no X.509 certificate"},
		{StoreType(42), CodeOpenStore, "unknown certificate store type 42"},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			store := "MY"
			if tc.typ.IsFile() {
				store = p
			}
			_, err := Open(tc.typ, []byte(store), "")
			wantCode(t, err, tc.code, tc.frag)
		})
	}
	// File types that cannot be used still report a missing file as 271.
	for _, typ := range []StoreType{SSHPublicKeyFile, PPKFile, XMLFile} {
		_, err := Open(typ, []byte(filepath.Join(t.TempDir(), "none")), "")
		wantCode(t, err, CodeOpenStore, "does not exist")
	}
}

func TestOpen_FileNotRegular(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := Open(PEMKeyFile, []byte("/dev/zero"), "")
	wantCode(t, err, CodeOpenStore, "not a regular file")
	// Auto does not read devices either.
	_, err = Open(Auto, []byte("/dev/zero"), "")
	if err == nil || !strings.Contains(err.Error(), "neither a readable file") {
		t.Fatalf("auto /dev/zero: %v", err)
	}
}
