package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wsserver/wsserver"
)

// tlsOptions are the --tls-* flags: the server certificate, through the
// library's SSLCert properties, or a self-signed one for local use.
type tlsOptions struct {
	storeType  string // --tls-cert-store-type: a name (storeTypes) or the reference's number
	store      string // --tls-cert-store: SSLCertStore
	password   string // --tls-cert-password: SSLCertStorePassword
	subject    string // --tls-cert-subject: SSLCertSubject
	selfSigned bool   // --tls-self-signed
	certFile   string // --tls-cert: PEM certificate (chain)
	keyFile    string // --tls-key: its PEM private key
}

// enabled reports whether the command serves https and wss.
func (o tlsOptions) enabled() bool { return o.store != "" || o.selfSigned || o.certFile != "" }

// storeTypes are the names --tls-cert-store-type takes for the store types
// that work with a file.
var storeTypes = map[string]int{
	"auto":       wsserver.CertStoreAuto,
	"pfxfile":    wsserver.CertStorePFXFile,
	"pfx":        wsserver.CertStorePFXFile,
	"pemkeyfile": wsserver.CertStorePEMKeyFile,
	"pem":        wsserver.CertStorePEMKeyFile,
	"jwkfile":    wsserver.CertStoreJWKFile,
	"jwk":        wsserver.CertStoreJWKFile,
}

// parseStoreType reads --tls-cert-store-type: a name or a number.
func parseStoreType(v string) (int, error) {
	if n, ok := storeTypes[strings.ToLower(v)]; ok {
		return n, nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("--tls-cert-store-type %q: want auto, pfxfile, pemkeyfile, jwkfile or the reference's number", v)
}

// configureTLS selects the certificate on srv and returns the configuration
// for the listener (Server.TLSConfig).
func configureTLS(srv *wsserver.Server, o tlsOptions) (*tls.Config, error) {
	if o.selfSigned {
		blob, err := selfSignedLocalhost()
		if err != nil {
			return nil, fmt.Errorf("--tls-self-signed: %v", err)
		}
		if err := srv.SetSSLCertEncodedB(blob); err != nil {
			return nil, fmt.Errorf("--tls-self-signed: %v", err)
		}
	} else if o.certFile != "" {
		// The usual pair of PEM files: one text with both for SSLCertEncoded.
		cert, err := os.ReadFile(o.certFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert: %v", err)
		}
		key, err := os.ReadFile(o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-key: %v", err)
		}
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			return nil, fmt.Errorf("--tls-cert %s --tls-key %s: %v", o.certFile, o.keyFile, err)
		}
		blob := append(append(cert, '\n'), key...)
		if err := srv.SetSSLCertEncodedB(blob); err != nil {
			return nil, fmt.Errorf("--tls-cert %s --tls-key %s: %v", o.certFile, o.keyFile, err)
		}
	} else {
		t, err := parseStoreType(o.storeType)
		if err != nil {
			return nil, err
		}
		if err := srv.SetSSLCertStoreType(t); err != nil {
			return nil, fmt.Errorf("--tls-cert-store-type: %v", err)
		}
		srv.SetSSLCertStore(o.store)
		srv.SetSSLCertStorePassword(o.password)
		if err := srv.SetSSLCertSubject(o.subject); err != nil {
			return nil, fmt.Errorf("--tls-cert-store %s: %v", o.store, err)
		}
	}
	conf, err := srv.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("TLS: %v", err)
	}
	return conf, nil
}

// certFingerprint returns the SHA-256 fingerprint of the first
// certificate in a PEM text, as colon-separated upper-case hex (how
// browsers show it), or "" when there is none.
func certFingerprint(pemText []byte) string {
	for {
		var b *pem.Block
		b, pemText = pem.Decode(pemText)
		if b == nil {
			return ""
		}
		if b.Type == "CERTIFICATE" {
			sum := sha256.Sum256(b.Bytes)
			parts := make([]string, len(sum))
			for i, x := range sum {
				parts[i] = fmt.Sprintf("%02X", x)
			}
			return strings.Join(parts, ":")
		}
	}
}

// selfSignedLocalhost makes an ECDSA certificate for localhost, 127.0.0.1
// and ::1, valid for 30 days, with its key, as one PEM text.
func selfSignedLocalhost() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"wsserver self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...), nil
}
