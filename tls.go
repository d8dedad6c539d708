package wsserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/wsserver/wsserver/internal/certstore"
)

// sslSettings are the SSL properties and config settings. Server.mu guards them.
type sslSettings struct {
	useSSL              bool
	authenticateClients bool
	certEncoded         []byte
	certStore           []byte
	certStorePassword   string
	certStoreType       int
	certSubject         string
	cert                *tls.Certificate  // the selected certificate, nil when none
	values              map[string]string // SSL config settings set by Config
}

func defaultSSLSettings() sslSettings {
	return sslSettings{certStore: []byte("MY"), certStoreType: int(certstore.User)}
}

// tlsRuntime is the TLS configuration of a listening server.
type tlsRuntime struct {
	config *tls.Config
}

// UseSSL reports whether connections negotiate TLS (wss://).
func (s *Server) UseSSL() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.ssl.useSSL
}

// SetUseSSL makes StartListening negotiate TLS with every client. A
// certificate must be selected through the SSLCert properties first, or
// StartListening fails with 282.
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

// SetSSLAuthenticateClients makes the server ask clients for a certificate;
// the SSLClientAuthentication event then decides whether each may go on.
func (s *Server) SetSSLAuthenticateClients(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.ssl.authenticateClients = on
	return nil
}

// SSLCertStoreType returns the type of the certificate store (see certificate
// store types in the README; default 0, the Windows user store).
func (s *Server) SSLCertStoreType() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.ssl.certStoreType
}

// SetSSLCertStoreType sets the type of the certificate store.
func (s *Server) SetSSLCertStoreType(t int) error {
	if certstore.StoreType(t).String() == "" {
		return newError(ErrInvalidValue, "SSLCertStoreType %d is not a store type of the reference", t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.ssl.certStoreType = t
	return nil
}

// SSLCertStore returns the certificate store: a file name for file types, the
// content for blob types.
func (s *Server) SSLCertStore() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.cfg.ssl.certStore)
}

// SSLCertStoreB returns the certificate store as bytes.
func (s *Server) SSLCertStoreB() []byte { return []byte(s.SSLCertStore()) }

// SetSSLCertStore sets the certificate store (a file name, or the content of
// a blob store type).
func (s *Server) SetSSLCertStore(store string) error { return s.SetSSLCertStoreB([]byte(store)) }

// SetSSLCertStoreB sets the certificate store from bytes.
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

// SetSSLCertStorePassword sets the password of the certificate store.
func (s *Server) SetSSLCertStorePassword(password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.ssl.certStorePassword = password
	return nil
}

// SSLCertSubject returns the full subject of the selected certificate, or ""
// when none is selected.
func (s *Server) SSLCertSubject() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.ssl.certSubject
}

// SetSSLCertSubject selects the server certificate from the store set by
// SSLCertStoreType, SSLCertStore and SSLCertStorePassword (set those first):
// the certificate whose subject equals subject, else the first whose subject
// contains it, "*" the first with a private key. On success SSLCertSubject
// reads back the full subject; otherwise it reads "" and the error says why
// (271 store cannot be opened, 272 no such certificate, 273 no usable key).
func (s *Server) SetSSLCertSubject(subject string) error {
	s.mu.Lock()
	st := s.cfg.ssl
	s.mu.Unlock()
	cert, full, err := selectCertificate(certstore.StoreType(st.certStoreType), st.certStore, st.certStorePassword, subject)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.cfg.ssl.certSubject, s.cfg.ssl.cert, s.cfg.ssl.certEncoded = "", nil, nil
		return sslError(err)
	}
	s.cfg.ssl.certSubject, s.cfg.ssl.cert = full, cert
	s.cfg.ssl.certEncoded = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	return nil
}

// SSLCertEncoded returns the selected certificate, PEM encoded.
func (s *Server) SSLCertEncoded() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.cfg.ssl.certEncoded)
}

// SSLCertEncodedB returns the selected certificate, PEM encoded, as bytes.
func (s *Server) SSLCertEncodedB() []byte { return []byte(s.SSLCertEncoded()) }

// SetSSLCertEncoded assigns the certificate (PEM, or base64 DER). When the
// text also holds its private key, that key is used; otherwise the key is
// searched for in the current store. SSLCertSubject then reads the
// certificate's full subject, or "" when no key was found.
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
	s.cfg.ssl.certEncoded = append([]byte(nil), encoded...)
	if err != nil {
		s.cfg.ssl.certSubject, s.cfg.ssl.cert = "", nil
		return sslError(err)
	}
	s.cfg.ssl.certSubject, s.cfg.ssl.cert = full, cert
	return nil
}

// selectCertificate opens a store and selects a certificate with a key.
func selectCertificate(t certstore.StoreType, store []byte, password, subject string) (*tls.Certificate, string, error) {
	st, err := certstore.Open(t, store, password)
	if err != nil {
		return nil, "", err
	}
	entry, full, err := st.Select(subject)
	if err != nil {
		return nil, "", err
	}
	cert, err := entry.TLSCertificate()
	if err != nil {
		return nil, "", err
	}
	return &cert, full, nil
}

// certificateFromEncoded finds the key for an encoded certificate: in the
// text itself, else in the store.
func certificateFromEncoded(encoded []byte, st sslSettings) (*tls.Certificate, string, error) {
	own, err := certstore.Open(certstore.PEMKeyBlob, encoded, st.certStorePassword)
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
		return nil, "", err
	}
	for _, e := range store.Entries {
		if e.Leaf() != nil && e.Leaf().Equal(leaf) && e.Key != nil {
			cert, err := e.TLSCertificate()
			if err != nil {
				return nil, "", err
			}
			return &cert, e.Subject(), nil
		}
	}
	return nil, "", &certstore.Error{Code: 272, Message: "the store holds no private key for the encoded certificate " + certstore.Subject(leaf)}
}

// sslError turns a certstore error into an *Error with its SSL code.
func sslError(err error) error {
	var ce *certstore.Error
	if errors.As(err, &ce) {
		return &Error{Code: ce.Code, Message: ce.Message, Err: ce.Err}
	}
	return &Error{Code: 273, Message: "Cannot acquire security credentials", Err: err}
}

// buildTLS builds the TLS configuration for StartListening; it fails with 282
// when no certificate is selected.
func (s *Server) buildTLS() (*tlsRuntime, error) {
	s.mu.Lock()
	st := s.cfg.ssl
	s.mu.Unlock()
	if st.cert == nil {
		return nil, &Error{Code: 282, Message: "Could not find server certificate: UseSSL needs a certificate; set SSLCertStoreType, SSLCertStore, SSLCertStorePassword and then SSLCertSubject (or SSLCertEncoded)"}
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{*st.cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
	if st.authenticateClients {
		cfg.ClientAuth = tls.RequestClientCert
	}
	return &tlsRuntime{config: cfg}, nil
}

// tlsHandshake runs the TLS handshake of a connection, firing SSLStatus,
// SSLConnectionRequest and SSLClientAuthentication; DefaultConnectionTimeout
// bounds the client's inactivity during it.
func (s *Server) tlsHandshake(c *Connection, rt *tlsRuntime, cfg *settings) (*tls.Conn, error) {
	idle := time.Duration(cfg.defaultConnectionTimeout) * time.Second
	raw := &idleConn{Conn: c.nc, idle: idle}
	conf := rt.config
	if s.Events.OnSSLConnectionRequest != nil || cfg.ssl.authenticateClients {
		conf = conf.Clone()
		conf.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			return s.sslConnectionRequest(c, hello, conf)
		}
		if cfg.ssl.authenticateClients {
			conf.VerifyConnection = func(cs tls.ConnectionState) error {
				return s.sslClientAuthentication(c, cs)
			}
		}
	}
	s.fireSSLStatus(c.id, "TLS handshake started with "+c.remoteHost)
	tc := tls.Server(raw, conf)
	ctx := context.Background()
	if idle <= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.handshakeTimeout)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		s.fireSSLStatus(c.id, "TLS handshake failed: "+err.Error())
		s.fireError(c.id, &Error{Code: 276, Message: "Error during handshake", Err: err})
		return nil, err
	}
	raw.idle = 0
	raw.Conn.SetReadDeadline(time.Time{})
	cs := tc.ConnectionState()
	s.fireSSLStatus(c.id, fmt.Sprintf("TLS handshake complete: %s, %s", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite)))
	return tc, nil
}

// sslConnectionRequest fires SSLConnectionRequest and loads the certificate
// the handler picked, if any, for this connection.
func (s *Server) sslConnectionRequest(c *Connection, hello *tls.ClientHelloInfo, base *tls.Config) (*tls.Config, error) {
	h := s.Events.OnSSLConnectionRequest
	if h == nil {
		return nil, nil
	}
	suites := make([]string, 0, len(hello.CipherSuites))
	for _, id := range hello.CipherSuites {
		suites = append(suites, tls.CipherSuiteName(id))
	}
	algs := make([]string, 0, len(hello.SignatureSchemes))
	for _, sc := range hello.SignatureSchemes {
		algs = append(algs, sc.String())
	}
	s.mu.Lock()
	st := s.cfg.ssl
	s.mu.Unlock()
	ev := &SSLConnectionRequestEvent{
		ConnectionID:           c.id,
		SupportedCipherSuites:  strings.Join(suites, ","),
		SupportedSignatureAlgs: strings.Join(algs, ","),
		CertStoreType:          st.certStoreType,
		CertStore:              string(st.certStore),
		CertPassword:           st.certStorePassword,
		CertSubject:            st.certSubject,
	}
	if err := call(s, c, "SSLConnectionRequest", h, ev); err != nil {
		s.reportPanic(c.id, err.(*handlerPanic))
		return nil, err
	}
	if ev.CertStoreType == st.certStoreType && ev.CertStore == string(st.certStore) &&
		ev.CertPassword == st.certStorePassword && ev.CertSubject == st.certSubject {
		return nil, nil
	}
	cert, full, err := selectCertificate(certstore.StoreType(ev.CertStoreType), []byte(ev.CertStore), ev.CertPassword, ev.CertSubject)
	if err != nil {
		s.fireError(c.id, sslError(err).(*Error))
		return nil, err
	}
	s.fireSSLStatus(c.id, "Using certificate "+full+" for this connection")
	conf := base.Clone()
	conf.GetConfigForClient = nil
	conf.Certificates = []tls.Certificate{*cert}
	return conf, nil
}

// sslClientAuthentication fires SSLClientAuthentication for the client's
// certificate and fails the handshake when the handler does not accept it.
func (s *Server) sslClientAuthentication(c *Connection, cs tls.ConnectionState) error {
	ev := &SSLClientAuthenticationEvent{ConnectionID: c.id, Status: "no certificate presented"}
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		ev.CertEncoded = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
		ev.CertSubject = certstore.Subject(leaf)
		ev.CertIssuer = certstore.FormatName(leaf.RawIssuer)
		ev.Status = verifyClientChain(cs.PeerCertificates, s.clientCAs())
	}
	ev.Accept = ev.Status == "OK"
	if err := call(s, c, "SSLClientAuthentication", s.Events.OnSSLClientAuthentication, ev); err != nil {
		s.reportPanic(c.id, err.(*handlerPanic))
		return err
	}
	if !ev.Accept {
		return errors.New("client certificate refused: " + ev.Status)
	}
	return nil
}

// clientCAs returns the pool client certificates are verified against.
func (s *Server) clientCAs() *x509.CertPool {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	return pool
}

// verifyClientChain verifies a client chain and says "OK" or why not.
func verifyClientChain(chain []*x509.Certificate, roots *x509.CertPool) string {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return err.Error()
	}
	return "OK"
}

func (s *Server) fireSSLStatus(id int, msg string) {
	s.logf(id, 2, "%s", msg)
	if err := call(s, nil, "SSLStatus", s.Events.OnSSLStatus, &SSLStatusEvent{ConnectionID: id, Message: msg}); err != nil {
		s.reportPanic(id, err.(*handlerPanic))
	}
}

// idleConn extends the read deadline before every read while idle > 0, so
// that DefaultConnectionTimeout bounds inactivity, not the whole handshake.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	if c.idle > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Read(p)
}

func tlsVersionName(v uint16) string { return tls.VersionName(v) }

func cipherSuiteName(id uint16) string { return tls.CipherSuiteName(id) }
