package certstore

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func mustOpen(t *testing.T, typ StoreType, store []byte, password string) *Store {
	t.Helper()
	s, err := Open(typ, store, password)
	if err != nil {
		t.Fatalf("Open(%s): %v", typ, err)
	}
	return s
}

// checkServerEntry selects want by subject, checks the chain and runs a
// handshake with it.
func checkServerEntry(t *testing.T, s *Store, fx chainFixture, chainLen int) {
	t.Helper()
	e, subj, err := s.Select("*")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Leaf().Raw, fx.leaf.Cert.Raw) {
		t.Fatalf("selected %q, want the leaf", subj)
	}
	if len(e.Chain) != chainLen {
		t.Fatalf("chain length %d, want %d", len(e.Chain), chainLen)
	}
	if chainLen >= 2 && !bytes.Equal(e.Chain[1].Raw, fx.inter.Cert.Raw) {
		t.Fatal("chain[1] is not the intermediate")
	}
	if chainLen >= 3 && !bytes.Equal(e.Chain[2].Raw, fx.ca.Cert.Raw) {
		t.Fatal("chain[2] is not the root")
	}
	cert, err := e.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != chainLen || cert.Leaf != e.Leaf() {
		t.Fatal("tls.Certificate does not carry the chain")
	}
	handshake(t, cert)
}

func TestOpen_PEMKeyFile_KeyFormatsAndChain(t *testing.T) {
	// cstPEMKeyFile: "a PEM-encoded file that contains a private key and an
	// optional certificate": PKCS#1, PKCS#8 and SEC 1 EC keys, in any order.
	for _, tc := range []struct {
		name string
		kt   certtest.KeyType
		key  func(t *testing.T, k crypto.Signer) []byte
	}{
		{"RSA PKCS#1", certtest.RSA, func(t *testing.T, k crypto.Signer) []byte {
			return pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey)))
		}},
		{"RSA PKCS#8", certtest.RSA, pkcs8PEM},
		{"ECDSA SEC1", certtest.ECDSA, func(t *testing.T, k crypto.Signer) []byte {
			der, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
			if err != nil {
				t.Fatal(err)
			}
			return append(pemOf("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}), pemOf("EC PRIVATE KEY", der)...)
		}},
		{"ECDSA PKCS#8", certtest.ECDSA, pkcs8PEM},
		{"Ed25519 PKCS#8", certtest.Ed25519, pkcs8PEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newChain(t, tc.kt, "www.server.com")
			// Root first, key in the middle, leaf last: order must not matter.
			var buf bytes.Buffer
			buf.WriteString("comment text before the blocks\n")
			buf.Write(fx.ca.CertPEM())
			buf.Write(tc.key(t, fx.leaf.Key))
			buf.Write(fx.inter.CertPEM())
			buf.Write(fx.leaf.CertPEM())
			s := mustOpen(t, PEMKeyFile, []byte(writeFile(t, "server.pem", buf.Bytes())), "")
			if s.Type != PEMKeyFile || len(s.Entries) != 3 {
				t.Fatalf("type %s, %d entries", s.Type, len(s.Entries))
			}
			checkServerEntry(t, s, fx, 3)
		})
	}
}

func pkcs8PEM(t *testing.T, k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

func TestOpen_PEMKeyBlob_BinaryOrBase64(t *testing.T) {
	// cstPEMKeyBlob: "a string (binary or Base64-encoded)".
	fx := newChain(t, certtest.ECDSA, "blob.example")
	text := append(append(fx.leaf.CertPEM(), fx.inter.CertPEM()...), fx.leaf.KeyPEM(t)...)
	for name, blob := range map[string][]byte{
		"PEM text":      text,
		"base64 of PEM": []byte(base64.StdEncoding.EncodeToString(text)),
	} {
		t.Run(name, func(t *testing.T) {
			checkServerEntry(t, mustOpen(t, PEMKeyBlob, blob, ""), fx, 2)
		})
	}
	// A DER key alone: a key-only store.
	der, _ := x509.MarshalPKCS8PrivateKey(fx.leaf.Key)
	for name, blob := range map[string][]byte{"DER": der, "base64 DER": []byte(base64.StdEncoding.EncodeToString(der))} {
		s := mustOpen(t, PEMKeyBlob, blob, "")
		if len(s.Entries) != 1 || s.Entries[0].Key == nil || len(s.Entries[0].Chain) != 0 {
			t.Fatalf("%s: entries %+v", name, s.Entries)
		}
		_, _, err := s.Select("*")
		wantCode(t, err, CodeCertNotFound, "no X.509 certificate")
		_, err = s.Entries[0].TLSCertificate()
		wantCode(t, err, CodeCertNotFound)
	}
}

// encryptPKCS8 makes an "ENCRYPTED PRIVATE KEY" with PBES2, PBKDF2-HMAC-SHA256
// and AES-256-CBC, as `openssl pkcs8 -topk8 -v2 aes256` does.
func encryptPKCS8(t *testing.T, key crypto.Signer, password string) []byte {
	t.Helper()
	plain, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	salt, iv := make([]byte, 16), make([]byte, 16)
	rand.Read(salt)
	rand.Read(iv)
	k, err := pbkdf2.Key(sha256.New, password, salt, 2048, 32)
	if err != nil {
		t.Fatal(err)
	}
	pad := 16 - len(plain)%16
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, _ := aes.NewCipher(k)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	type algo struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	raw := func(v any) asn1.RawValue {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	kdf := struct {
		Salt []byte
		Iter int
		PRF  pkix.AlgorithmIdentifier
	}{salt, 2048, pkix.AlgorithmIdentifier{Algorithm: oidHMACSHA256, Parameters: asn1.NullRawValue}}
	params := struct{ KDF, Enc algo }{
		algo{oidPBKDF2, raw(kdf)},
		algo{oidAES256CBC, raw(iv)},
	}
	der, err := asn1.Marshal(struct {
		Algo algo
		Data []byte
	}{algo{oidPBES2, raw(params)}, ct})
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("ENCRYPTED PRIVATE KEY", der)
}

func TestOpen_PEMKey_EncryptedPKCS8_PBES2(t *testing.T) {
	// RFC 5958 EncryptedPrivateKeyInfo with RFC 8018 PBES2.
	fx := newChain(t, certtest.ECDSA, "enc.example")
	data := append(encryptPKCS8(t, fx.leaf.Key, "s3cret"), fx.leaf.CertPEM()...)
	s := mustOpen(t, PEMKeyBlob, data, "s3cret")
	e, _, err := s.Select("enc.example")
	if err != nil || e.Key == nil {
		t.Fatalf("select: %v", err)
	}
	_, err = Open(PEMKeyBlob, data, "wrong")
	wantCode(t, err, CodeOpenStore, "wrong password")
	_, err = Open(PEMKeyBlob, data, "")
	wantCode(t, err, CodeOpenStore, "encrypted", "SSLCertStorePassword")
}

func TestOpen_PEMKey_EncryptedPKCS8_OpenSSL(t *testing.T) {
	// Keys encrypted by the openssl command: PBES2 with several ciphers and
	// PRFs; scrypt is reported as unsupported.
	fx := newChain(t, certtest.RSA, "openssl.example")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), fx.leaf.KeyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-v2", "aes256"},
		{"-v2", "aes128", "-v2prf", "hmacWithSHA512"},
		{"-v2", "des3"},
		{"-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			full := append([]string{"pkcs8", "-topk8", "-in", "key.pem", "-out", "enc.pem", "-passout", "pass:pw"}, args...)
			openssl(t, dir, false, full...)
			enc, _ := os.ReadFile(filepath.Join(dir, "enc.pem"))
			s := mustOpen(t, PEMKeyBlob, append(enc, fx.leaf.CertPEM()...), "pw")
			if _, err := s.Entries[0].TLSCertificate(); err != nil {
				t.Fatal(err)
			}
			_, err := Open(PEMKeyBlob, enc, "nope")
			wantCode(t, err, CodeOpenStore, "wrong password")
		})
	}
	t.Run("scrypt", func(t *testing.T) {
		if err := openssl(t, dir, true, "pkcs8", "-topk8", "-in", "key.pem", "-out", "scrypt.pem", "-passout", "pass:pw", "-scrypt"); err != nil {
			t.Skipf("openssl cannot make scrypt keys: %v", err)
		}
		enc, _ := os.ReadFile(filepath.Join(dir, "scrypt.pem"))
		_, err := Open(PEMKeyBlob, enc, "pw")
		wantCode(t, err, CodeOpenStore, "scrypt", "not supported")
	})
	t.Run("PKCS#12 PBE v1", func(t *testing.T) {
		if err := openssl(t, dir, true, "pkcs8", "-topk8", "-in", "key.pem", "-out", "v1.pem", "-passout", "pass:pw", "-v1", "PBE-SHA1-3DES"); err != nil {
			t.Skipf("openssl cannot make PBE v1 keys: %v", err)
		}
		enc, _ := os.ReadFile(filepath.Join(dir, "v1.pem"))
		_, err := Open(PEMKeyBlob, enc, "pw")
		wantCode(t, err, CodeOpenStore, "not supported")
	})
}

func TestOpen_PEMKey_LegacyRFC1423Encryption(t *testing.T) {
	// "Proc-Type: 4,ENCRYPTED" keys (RFC 1423), as `openssl rsa -des3` writes.
	fx := newChain(t, certtest.RSA, "legacy.example")
	//lint:ignore SA1019 the test makes a legacy key on purpose
	block, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", //nolint:staticcheck
		x509.MarshalPKCS1PrivateKey(fx.leaf.Key.(*rsa.PrivateKey)), []byte("pw"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	data := append(pem.EncodeToMemory(block), fx.leaf.CertPEM()...)
	s := mustOpen(t, PEMKeyBlob, data, "pw")
	if s.Entries[0].Key == nil {
		t.Fatal("no key")
	}
	_, err = Open(PEMKeyBlob, data, "bad")
	wantCode(t, err, CodeOpenStore, "wrong password")
	_, err = Open(PEMKeyBlob, data, "")
	wantCode(t, err, CodeOpenStore, "SSLCertStorePassword")
}

func TestOpen_PEMKey_Errors(t *testing.T) {
	// 271: missing file, no PEM, corrupt blocks; 272: no certificate or key.
	_, err := Open(PEMKeyFile, []byte(filepath.Join(t.TempDir(), "missing.pem")), "")
	e := wantCode(t, err, CodeOpenStore, "cannot open certificate store: PEM file", "missing.pem", "does not exist")
	if !os.IsNotExist(e.Unwrap()) {
		t.Errorf("Unwrap = %v, want the os error", e.Unwrap())
	}
	_, err = Open(PEMKeyFile, []byte(t.TempDir()), "")
	wantCode(t, err, CodeOpenStore, "not a regular file")

	_, err = Open(PEMKeyBlob, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "")
	wantCode(t, err, CodeOpenStore, "PEM block 1 (CERTIFICATE)")
	_, err = Open(PEMKeyBlob, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "")
	wantCode(t, err, CodeOpenStore, "PEM block 1 (PRIVATE KEY)")
	_, err = Open(PEMKeyBlob, []byte("hello"), "")
	wantCode(t, err, CodeOpenStore, "neither PEM nor a DER")
	_, err = Open(PEMKeyBlob, nil, "")
	wantCode(t, err, CodeOpenStore, "empty")

	c := certtest.New(t, nil, certtest.Options{})
	pub, _ := x509.MarshalPKIXPublicKey(c.Key.Public())
	_, err = Open(PEMKeyBlob, pemOf("PUBLIC KEY", pub), "")
	wantCode(t, err, CodeCertNotFound, "bare public key")
	_, err = Open(PEMKeyBlob, pemOf("OPENSSH PRIVATE KEY", []byte("x")), "")
	wantCode(t, err, CodeCertNotFound, "OpenSSH")
	_, err = Open(PEMKeyBlob, pemOf("CERTIFICATE REQUEST", []byte("x")), "")
	wantCode(t, err, CodeCertNotFound, "certificate request")
	_, err = Open(PEMKeyBlob, pemOf("FOO", []byte("x")), "")
	wantCode(t, err, CodeCertNotFound, `"FOO"`)
}

func TestOpen_PublicKeyFile_PEMOrDER_NoKey(t *testing.T) {
	// cstPublicKeyFile: "a PEM- or DER-encoded public key certificate": the
	// subject can be read, but it is not a server credential (273).
	fx := newChain(t, certtest.RSA, "public.example")
	for name, data := range map[string][]byte{
		"PEM":        fx.leaf.CertPEM(),
		"DER":        fx.leaf.Cert.Raw,
		"PEM+key":    append(fx.leaf.CertPEM(), fx.leaf.KeyPEM(t)...), // the key is ignored
		"base64 DER": []byte(base64.StdEncoding.EncodeToString(fx.leaf.Cert.Raw)),
	} {
		t.Run(name, func(t *testing.T) {
			s := mustOpen(t, PublicKeyFile, []byte(writeFile(t, "cert", data)), "")
			e, subj, err := s.Select("public.example")
			if err != nil {
				t.Fatal(err)
			}
			if subj != "CN=public.example" || e.Key != nil {
				t.Fatalf("subject %q key %v", subj, e.Key)
			}
			_, err = e.TLSCertificate()
			wantCode(t, err, CodeCredentials, "no private key", "CN=public.example")
		})
	}
	s := mustOpen(t, PublicKeyBlob, fx.leaf.Cert.Raw, "")
	if len(s.Entries) != 1 {
		t.Fatal("entries")
	}
	_, err := Open(PublicKeyBlob, fx.leaf.KeyPEM(t), "")
	wantCode(t, err, CodeCertNotFound, "holds no certificate")
}

func TestTLSCertificate_273_KeyMismatchAndUnsupported(t *testing.T) {
	fx := newChain(t, certtest.ECDSA, "mismatch.example")
	other := certtest.NewKey(t, certtest.ECDSA)
	e := Entry{Chain: []*x509.Certificate{fx.leaf.Cert}, Key: other}
	_, err := e.TLSCertificate()
	wantCode(t, err, CodeCredentials, "does not match certificate", "CN=mismatch.example")

	// A PEM store whose key belongs to no certificate: the certificate has
	// no key and the key is a key-only entry.
	s := mustOpen(t, PEMKeyBlob, append(fx.leaf.CertPEM(), pkcs8PEM(t, other)...), "")
	if len(s.Entries) != 2 || s.Entries[0].Key != nil || s.Entries[1].Key == nil {
		t.Fatalf("entries %+v", s.Entries)
	}
	_, err = s.Entries[0].TLSCertificate()
	wantCode(t, err, CodeCredentials, "no private key")

	e = Entry{Chain: []*x509.Certificate{fx.leaf.Cert}, Key: "not a key"}
	_, err = e.TLSCertificate()
	wantCode(t, err, CodeCredentials, "cannot sign")
}

func TestTLSCertificate_273_KeyTypesTLSCannotUse(t *testing.T) {
	// ECDSA P-224 and X25519 (ECDH) keys exist in x509 but not in TLS.
	k224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := certtest.NewWithKey(t, nil, certtest.Options{Subject: pkix.Name{CommonName: "p224.example"}}, k224)
	_, err = Entry{Chain: []*x509.Certificate{c.Cert}, Key: k224}.TLSCertificate()
	wantCode(t, err, CodeCredentials, "curve P-224")

	xk, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(xk)
	if err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, PEMKeyBlob, pemOf("PRIVATE KEY", der), "")
	if len(s.Entries) != 1 || s.Entries[0].Key == nil {
		t.Fatal("X25519 key not read")
	}
	_, err = Entry{Chain: []*x509.Certificate{c.Cert}, Key: s.Entries[0].Key}.TLSCertificate()
	wantCode(t, err, CodeCredentials, "cannot sign")

	_, err = Open(PEMKeyBlob, pemOf("DSA PRIVATE KEY", []byte{1}), "")
	wantCode(t, err, CodeCertNotFound, "DSA private key")
}
