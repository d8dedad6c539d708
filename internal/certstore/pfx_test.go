package certstore

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// pfxDir writes the leaf, its key and the CA chain as PEM files for openssl.
func pfxDir(t *testing.T, fx chainFixture) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"leaf.pem":  fx.leaf.CertPEM(),
		"key.pem":   fx.leaf.KeyPEM(t),
		"chain.pem": append(fx.inter.CertPEM(), fx.ca.CertPEM()...),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOpen_PFXFile_OpenSSL_ModernAndLegacy(t *testing.T) {
	// cstPFXFile with files made by `openssl pkcs12 -export`: the OpenSSL 3
	// default (PBES2 AES-256-CBC, HMAC-SHA256 MAC), explicit legacy 3DES, and
	// `-legacy` (RC2-40 certificates, 3DES key), which needs OpenSSL's legacy
	// provider.
	fx := newChain(t, certtest.RSA, "pfx.example")
	dir := pfxDir(t, fx)
	base := []string{"pkcs12", "-export", "-in", "leaf.pem", "-inkey", "key.pem", "-certfile", "chain.pem", "-passout", "pass:pfx-pw"}
	for _, tc := range []struct {
		name  string
		extra []string
		skip  bool // skip when openssl cannot make it
	}{
		{"modern AES-256", []string{"-keypbe", "AES-256-CBC", "-certpbe", "AES-256-CBC", "-macalg", "sha256"}, false},
		{"legacy 3DES", []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"}, false},
		{"legacy RC2 (-legacy)", []string{"-legacy"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "s.pfx")
			args := append(append(append([]string{}, base...), "-out", out), tc.extra...)
			if err := openssl(t, dir, tc.skip, args...); err != nil {
				t.Skipf("this openssl cannot write %s PFX files: %v", tc.name, err)
			}
			s := mustOpen(t, PFXFile, []byte(out), "pfx-pw")
			if s.Type != PFXFile || len(s.Entries) != 3 {
				t.Fatalf("type %s, %d entries", s.Type, len(s.Entries))
			}
			checkServerEntry(t, s, fx, 3)

			_, err := Open(PFXFile, []byte(out), "wrong")
			wantCode(t, err, CodeOpenStore, `cannot open certificate store: PFX file "`+out+`": wrong password`)
			_, err = Open(PFXFile, []byte(out), "")
			wantCode(t, err, CodeOpenStore, "password-protected")

			raw, _ := os.ReadFile(out)
			checkServerEntry(t, mustOpen(t, PFXBlob, raw, "pfx-pw"), fx, 3)
			checkServerEntry(t, mustOpen(t, PFXBlob, []byte(base64.StdEncoding.EncodeToString(raw)), "pfx-pw"), fx, 3)
			checkServerEntry(t, mustOpen(t, Auto, raw, "pfx-pw"), fx, 3)
		})
	}
}

func TestOpen_PFXBlob_GoPKCS12Encoders(t *testing.T) {
	// The same formats without openssl: go-pkcs12's Modern (AES-256/PBES2),
	// LegacyDES (3DES) and LegacyRC2 encoders; ECDSA and Ed25519 keys.
	for _, kt := range []certtest.KeyType{certtest.ECDSA, certtest.Ed25519, certtest.RSA} {
		fx := newChain(t, kt, "go-pfx.example")
		for name, enc := range map[string]*pkcs12.Encoder{
			"Modern": pkcs12.Modern, "LegacyDES": pkcs12.LegacyDES, "LegacyRC2": pkcs12.LegacyRC2,
		} {
			t.Run(string(kt)+"/"+name, func(t *testing.T) {
				if kt == certtest.Ed25519 && name != "Modern" {
					t.Skip("one Ed25519 case is enough")
				}
				pfx, err := enc.Encode(fx.leaf.Key, fx.leaf.Cert, []*x509.Certificate{fx.inter.Cert}, "pw")
				if err != nil {
					t.Fatal(err)
				}
				s := mustOpen(t, PFXBlob, pfx, "pw")
				checkServerEntry(t, s, fx, 2)
				_, err = Open(PFXBlob, pfx, "pw2")
				wantCode(t, err, CodeOpenStore, "PFX blob: wrong password")
			})
		}
	}
}

func TestOpen_PFX_Errors(t *testing.T) {
	// 271 missing file / not a PFX; 273 certificates without a key.
	_, err := Open(PFXFile, []byte("/nonexistent/dir/x.pfx"), "pw")
	wantCode(t, err, CodeOpenStore, `PFX file "/nonexistent/dir/x.pfx": file does not exist`)
	_, err = Open(PFXBlob, []byte{0x30, 0x03, 0x02, 0x01, 0x03}, "pw")
	wantCode(t, err, CodeOpenStore, "not a valid PFX")
	_, err = Open(PFXBlob, []byte("garbage"), "pw")
	wantCode(t, err, CodeOpenStore, "not a valid PFX")

	fx := newChain(t, certtest.ECDSA, "nokey.example")
	dir := pfxDir(t, fx)
	openssl(t, dir, false, "pkcs12", "-export", "-nokeys", "-in", "leaf.pem", "-out", "nokey.pfx", "-passout", "pass:pw")
	_, err = Open(PFXFile, []byte(filepath.Join(dir, "nokey.pfx")), "pw")
	wantCode(t, err, CodeCredentials, "holds no private key")

	// A Java-style trust store (certificates only) lists its certificates.
	ts, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{fx.leaf.Cert}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, PFXBlob, ts, "pw")
	e, _, err := s.Select("*")
	if err != nil || e.Key != nil {
		t.Fatalf("trust store: %v", err)
	}
	_, err = e.TLSCertificate()
	wantCode(t, err, CodeCredentials)
}

func TestOpen_PFX_MacIterationBound(t *testing.T) {
	// A PFX that asks for more PBKDF iterations than maxPBKDF2Iterations is
	// refused before any work is done.
	fx := newChain(t, certtest.ECDSA, "iter.example")
	orig, err := pkcs12.Modern.Encode(fx.leaf.Key, fx.leaf.Cert, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		Version  int
		AuthSafe asn1.RawValue
		MacData  struct {
			Mac        asn1.RawValue
			Salt       []byte
			Iterations int
		}
	}
	if _, err := asn1.Unmarshal(orig, &hdr); err != nil {
		t.Fatal(err)
	}
	hdr.MacData.Iterations = maxPBKDF2Iterations + 1
	pfx, err := asn1.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if n := pfxMacIterations(pfx); n != maxPBKDF2Iterations+1 {
		t.Fatalf("pfxMacIterations = %d", n)
	}
	_, err = Open(PFXBlob, pfx, "pw")
	wantCode(t, err, CodeOpenStore, "MAC iteration count")
}

func TestOpen_PFX_KeyWithoutCertificate_272(t *testing.T) {
	// `openssl pkcs12 -export -nocerts`: a key and no certificate.
	fx := newChain(t, certtest.ECDSA, "keyonly.example")
	dir := pfxDir(t, fx)
	openssl(t, dir, false, "pkcs12", "-export", "-nocerts", "-inkey", "key.pem", "-out", "k.pfx", "-passout", "pass:pw")
	_, err := Open(PFXFile, []byte(filepath.Join(dir, "k.pfx")), "pw")
	wantCode(t, err, CodeCertNotFound, "holds no certificate")
}

func TestOpen_PFX_WrongPasswordUnwrapsToGoPKCS12(t *testing.T) {
	fx := newChain(t, certtest.ECDSA, "unwrap.example")
	pfx, err := pkcs12.Modern.Encode(fx.leaf.Key, fx.leaf.Cert, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(PFXBlob, pfx, "bad")
	if !errors.Is(err, pkcs12.ErrIncorrectPassword) {
		t.Errorf("errors.Is(err, pkcs12.ErrIncorrectPassword) is false for %v", err)
	}
}
