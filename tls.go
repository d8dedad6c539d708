package wsserver

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"

	"github.com/wsserver/wsserver/internal/certstore"
)

// The reference's certificate store types (TipwCertStoreTypes), for
// SetSSLCertStoreType and SSLConnectionRequestEvent.CertStoreType. The
// Windows stores, JKS, BCFKS, PKCS#11 and security keys cannot be opened
// here, and SSH, PPK and XML keys hold no certificate: those fail with a
// message that says so.
const (
	CertStoreUser             = 0  // Windows user store (cstUser, the default): not on Linux
	CertStoreMachine          = 1  // Windows machine store: not on Linux
	CertStorePFXFile          = 2  // a PKCS#12 file
	CertStorePFXBlob          = 3  // PKCS#12 content, binary or base64
	CertStoreJKSFile          = 4  // Java Key Store: Java edition only
	CertStoreJKSBlob          = 5  // Java Key Store content: Java edition only
	CertStorePEMKeyFile       = 6  // a PEM file with a private key and certificates
	CertStorePEMKeyBlob       = 7  // PEM text with a private key and certificates
	CertStorePublicKeyFile    = 8  // a PEM or DER certificate file (no key)
	CertStorePublicKeyBlob    = 9  // a PEM or DER certificate (no key)
	CertStoreSSHPublicKeyBlob = 10 // an SSH public key: no certificate
	CertStoreP7BFile          = 11 // a PKCS#7 certificates file (no key)
	CertStoreP7BBlob          = 12 // PKCS#7 certificates (no key)
	CertStoreSSHPublicKeyFile = 13 // an SSH public key file: no certificate
	CertStorePPKFile          = 14 // a PuTTY private key file: no certificate
	CertStorePPKBlob          = 15 // a PuTTY private key: no certificate
	CertStoreXMLFile          = 16 // a .NET XML key file: no certificate
	CertStoreXMLBlob          = 17 // a .NET XML key: no certificate
	CertStoreJWKFile          = 18 // a JSON Web Key (Set) file with "x5c" certificates
	CertStoreJWKBlob          = 19 // a JSON Web Key (Set) with "x5c" certificates
	CertStoreSecurityKey      = 20 // a hardware security key: needs PKCS#11
	CertStoreBCFKSFile        = 21 // Bouncy Castle FIPS key store: Java and .NET only
	CertStoreBCFKSBlob        = 22 // Bouncy Castle FIPS key store content
	CertStorePKCS11           = 23 // a PKCS#11 token: no module can be loaded
	CertStoreAuto             = 99 // detect PFX, PEM, JWK, PKCS#7 or DER from the content
)

// sslSettings are the SSL properties and config settings. Server.mu guards
// them; connections copy them with the rest of settings.
type sslSettings struct {
	useSSL              bool
	authenticateClients bool
	certEncoded         []byte
	certStore           []byte
	certStorePassword   string
	certStoreType       int
	certSubject         string
	// cert is the selected certificate with its private key, nil when none
	// is selected or the selected one cannot be used; certErr then says
	// why it cannot (273), for StartListening to report.
	cert    *tls.Certificate
	certErr error
	conf    sslConfig // the SSL config settings (tlsconfig.go)
}

func defaultSSLSettings() sslSettings {
	return sslSettings{certStore: []byte("MY"), certStoreType: int(certstore.User), conf: defaultSSLConfig}
}

// UseSSL reports whether StartListening negotiates TLS with every client.
func (s *Server) UseSSL() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.ssl.useSSL
}

// SetUseSSL makes StartListening negotiate TLS (wss://) with every client.
// A certificate must be selected through the SSLCert properties, or
// StartListening fails with 282 (none selected) or 273 (no usable private
// key). It takes effect at the next StartListening, and only there:
// connections served through ServeHTTP get their TLS from the http.Server
// (see TLSConfig).
func (s *Server) SetUseSSL(use bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.ssl.useSSL = use
	return nil
}

// SSLAuthenticateClients reports whether clients are asked for a certificate.
func (s *Server) SSLAuthenticateClients() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.ssl.authenticateClients
}

// SetSSLAuthenticateClients makes the server ask each client for a
// certificate (from the next StartListening). The SSLClientAuthentication
// event then decides whether the client may go on; without a handler, only
// clients whose certificate verifies against SSLCACerts, OpenSSLCAFile and
// OpenSSLCADir (or the system's roots when those are empty) are accepted.
func (s *Server) SetSSLAuthenticateClients(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.ssl.authenticateClients = on
	return nil
}

// SSLCertStoreType returns the type of the certificate store, one of the
// reference's numbers (see the README's TLS section; default 0, the Windows
// user store, which does not exist here).
func (s *Server) SSLCertStoreType() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.ssl.certStoreType
}

// SetSSLCertStoreType sets the type of the certificate store: 2 PFXFile,
// 3 PFXBlob, 6 PEMKeyFile, 7 PEMKeyBlob, 8 PublicKeyFile, 9 PublicKeyBlob,
// 11 P7BFile, 12 P7BBlob, 18 JWKFile, 19 JWKBlob or 99 Auto work here; the
// reference's other types are accepted and fail with a message that says
// why when SSLCertSubject is set. A number the reference does not define
// fails with ErrInvalidValue.
func (s *Server) SetSSLCertStoreType(t int) error {
	if !certstore.StoreType(t).Valid() {
		return newError(ErrInvalidValue, "SSLCertStoreType %d is not a store type of the reference (0-23 or 99)", t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.ssl.certStoreType = t
	return nil
}

// SSLCertStore returns the certificate store: a file name for the file
// types, the content for the blob types.
func (s *Server) SSLCertStore() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.cfg.ssl.certStore)
}

// SSLCertStoreB returns the certificate store as bytes.
func (s *Server) SSLCertStoreB() []byte { return []byte(s.SSLCertStore()) }

// SetSSLCertStore sets the certificate store: a file name for the file
// types, the content (binary or base64) for the blob types. Set it before
// SSLCertSubject, which opens it.
func (s *Server) SetSSLCertStore(store string) error { return s.SetSSLCertStoreB([]byte(store)) }

// SetSSLCertStoreB sets the certificate store from bytes (a PFX blob).
func (s *Server) SetSSLCertStoreB(store []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.ssl.certStore = append([]byte(nil), store...)
	return nil
}

// SSLCertStorePassword returns the password of the certificate store.
func (s *Server) SSLCertStorePassword() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.ssl.certStorePassword
}

// SetSSLCertStorePassword sets the password of the certificate store (a
// PFX file, or an encrypted PEM private key). Set it before SSLCertSubject.
func (s *Server) SetSSLCertStorePassword(password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.ssl.certStorePassword = password
	return nil
}

// SSLCertSubject returns the full subject of the selected certificate
// ("CN=www.example.com, O=Example"), or "" when none is selected.
func (s *Server) SSLCertSubject() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.ssl.certSubject
}

// SetSSLCertSubject selects the server certificate from the store that
// SSLCertStoreType, SSLCertStore and SSLCertStorePassword name, so set those
// first. It opens the store (reading the file, decrypting a PFX) and picks
// the certificate whose subject equals subject, else the first whose
// subject contains it (ignoring case); "*" picks the first certificate that
// has a private key. SSLCertSubject then reads the full subject of the
// chosen certificate.
//
// When nothing is selected SSLCertSubject reads "" and the error says why:
// 271 the store cannot be opened (missing file, wrong password, a type that
// does not exist on Linux), 270 a PKCS#11 store, 272 no certificate matches,
// 282 an empty subject. A certificate found without its private key (a
// PublicKeyFile or P7B store) is selected, but StartListening fails with
// 273 for it.
func (s *Server) SetSSLCertSubject(subject string) error {
	s.mu.Lock()
	st := s.cfg.ssl
	s.mu.Unlock()
	store, err := certstore.Open(certstore.StoreType(st.certStoreType), st.certStore, st.certStorePassword)
	var entry certstore.Entry
	var full string
	if err == nil {
		entry, full, err = store.Select(subject)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ssl := &s.cfg.ssl
	if err != nil {
		ssl.certSubject, ssl.cert, ssl.certErr, ssl.certEncoded = "", nil, nil, nil
		return sslError(err)
	}
	cert, certErr := entry.TLSCertificate()
	ssl.certSubject, ssl.cert, ssl.certErr = full, nil, certErr
	if certErr == nil {
		ssl.cert = &cert
	}
	ssl.certEncoded = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: entry.Leaf().Raw})
	return nil
}

// SSLCertEncoded returns the selected certificate, PEM encoded, or what
// SetSSLCertEncoded set.
func (s *Server) SSLCertEncoded() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.cfg.ssl.certEncoded)
}

// SSLCertEncodedB returns SSLCertEncoded as bytes.
func (s *Server) SSLCertEncodedB() []byte { return []byte(s.SSLCertEncoded()) }

// SetSSLCertEncoded assigns the server certificate directly: PEM, or base64
// or binary DER. Its private key is taken from the text itself when it holds
// one (a PEM with the certificate and its key), and is otherwise searched
// for in the store SSLCertStoreType, SSLCertStore and SSLCertStorePassword
// name. When the key is found, SSLCertSubject reads the certificate's full
// subject; when it is not, SSLCertSubject reads "" and StartListening fails
// with 273. Text that holds no certificate fails with the certificate
// store's error (271 or 272).
func (s *Server) SetSSLCertEncoded(encoded string) error {
	return s.SetSSLCertEncodedB([]byte(encoded))
}

// SetSSLCertEncodedB is SetSSLCertEncoded with bytes.
func (s *Server) SetSSLCertEncodedB(encoded []byte) error {
	s.mu.Lock()
	st := s.cfg.ssl
	s.mu.Unlock()
	cert, full, err := certificateFromEncoded(encoded, st)
	s.mu.Lock()
	defer s.mu.Unlock()
	ssl := &s.cfg.ssl
	ssl.certSubject, ssl.cert, ssl.certErr = "", nil, nil
	var ce *certstore.Error
	switch {
	case err == nil:
		ssl.certSubject, ssl.cert = full, cert
	case errors.As(err, &ce) && ce.Code == certstore.CodeCredentials:
		ssl.certErr = err // a certificate without its key: StartListening says so
	default:
		ssl.certEncoded = nil
		return sslError(err)
	}
	ssl.certEncoded = append([]byte(nil), encoded...)
	return nil
}

// certificateFromEncoded finds the private key of an encoded certificate:
// in the text itself, else in the store. A certificate whose key is found
// nowhere gives a 273 error; text without a certificate the error of
// opening it as a certificate.
func certificateFromEncoded(encoded []byte, st sslSettings) (*tls.Certificate, string, error) {
	own, err := certstore.Open(certstore.PEMKeyBlob, encoded, st.certStorePassword)
	var ce *certstore.Error
	if err != nil && errors.As(err, &ce) && ce.Code == certstore.CodeOpenStore && strings.Contains(ce.Message, "password") {
		return nil, "", err // the text holds an encrypted key that SSLCertStorePassword does not open
	}
	if err == nil {
		for _, e := range own.Entries {
			if e.Key != nil && e.Leaf() != nil {
				cert, err := e.TLSCertificate()
				if err != nil {
					return nil, "", err
				}
				return &cert, e.Subject(), nil
			}
		}
	}
	pub, err := certstore.Open(certstore.PublicKeyBlob, encoded, "")
	if err != nil {
		return nil, "", err
	}
	leaf := pub.Entries[0].Leaf()
	store, err := certstore.Open(certstore.StoreType(st.certStoreType), st.certStore, st.certStorePassword)
	if err != nil {
		return nil, "", &certstore.Error{Code: certstore.CodeCredentials, Err: err,
			Message: "cannot acquire security credentials: no private key for the SSLCertEncoded certificate " +
				certstore.Subject(leaf) + " in the text, and the store cannot be opened: " + err.Error()}
	}
	for _, e := range store.Entries {
		if e.Key == nil {
			continue
		}
		// The store's entry for the certificate, or a private key alone
		// that matches it.
		if e.Leaf() != nil && !e.Leaf().Equal(leaf) {
			continue
		}
		if e.Leaf() == nil {
			e = certstore.Entry{Chain: []*x509.Certificate{leaf}, Key: e.Key}
		}
		cert, err := e.TLSCertificate()
		if err == nil {
			return &cert, certstore.Subject(leaf), nil
		}
	}
	return nil, "", &certstore.Error{Code: certstore.CodeCredentials,
		Message: "cannot acquire security credentials: neither the SSLCertEncoded text nor the store holds the private key of " +
			certstore.Subject(leaf)}
}

// sslError turns a certstore error into an *Error with its SSL code.
func sslError(err error) error {
	var ce *certstore.Error
	if errors.As(err, &ce) {
		return &Error{Code: ce.Code, Message: ce.Message, Err: ce.Err}
	}
	return &Error{Code: certstore.CodeCredentials, Message: "cannot acquire security credentials", Err: err}
}
