package wsserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsserver/wsserver/internal/certstore"
	"github.com/wsserver/wsserver/internal/tlsconf"
)

// tlsRuntime is the TLS configuration of a listening server: what buildTLS
// made of the SSL properties and config settings at StartListening. It does
// not change once built, except for its caches, which have their own locks.
type tlsRuntime struct {
	srv    *Server
	config *tls.Config      // the Config every handshake starts from
	cert   *tls.Certificate // the SSLCert certificate

	minVersion, maxVersion uint16
	policy                 tlsconf.SignaturePolicy // TLS12/TLS13SignatureAlgorithms
	suites13               []uint16                // allowed TLS 1.3 suites; nil: all
	minStrength            int                     // SSLCipherStrength

	authenticate bool                       // SSLAuthenticateClients
	verify       tlsconf.VerifyOptions      // roots, SSLSecurityFlags, SSLIncludeCertChain
	revocation   *tlsconf.RevocationChecker // nil when SSLCheckCRL and SSLCheckOCSP are 0

	picked certCache // certificates SSLConnectionRequest picked
}

// buildTLS builds the TLS configuration StartListening serves with from
// the SSL properties and config settings. It fails with 282 when no
// certificate is selected, 273 when the selected one has no usable private
// key, and 301 when the settings cannot work together (no cipher suite
// left, CA files that no longer load, a certificate key that no allowed
// signature algorithm fits).
func (s *Server) buildTLS() (*tlsRuntime, error) {
	s.mu.Lock()
	st := s.cfg.ssl
	s.mu.Unlock()
	if st.cert == nil {
		if st.certErr != nil {
			return nil, sslError(st.certErr)
		}
		return nil, &Error{Code: certstore.CodeServerCertNotFound, Message: "Could not find server certificate: UseSSL needs a certificate; " +
			"set SSLCertStoreType, SSLCertStore and SSLCertStorePassword, then SSLCertSubject (or set SSLCertEncoded)"}
	}
	conf := st.conf
	rt := &tlsRuntime{
		srv:          s,
		cert:         st.cert,
		minVersion:   conf.minVersion,
		maxVersion:   conf.maxVersion,
		policy:       tlsconf.SignaturePolicy{TLS12: conf.sig12, TLS13: conf.sig13},
		suites13:     conf.suites13,
		minStrength:  conf.cipherStrength,
		authenticate: st.authenticateClients,
	}
	suites, err := conf.cipherSuites()
	if err != nil {
		return nil, err
	}
	if err := rt.checkCertificate(st.cert); err != nil {
		return nil, newError(ErrInvalidValue, "%v", err)
	}
	tc := &tls.Config{
		MinVersion:             conf.minVersion,
		MaxVersion:             conf.maxVersion,
		CipherSuites:           suites,
		CurvePreferences:       tlsconf.CurvePreferences(conf.groups12, conf.groups13, conf.minVersion, conf.maxVersion),
		SessionTicketsDisabled: !conf.reuseSession,
		// Only HTTP/1.1 can carry a WebSocket upgrade here; without this a
		// client offering only h2 would be refused later and less clearly.
		NextProtos:         []string{"http/1.1"},
		GetCertificate:     rt.getCertificate,
		GetConfigForClient: rt.configForClient,
	}
	if conf.keyLogFile != "" {
		tc.KeyLogWriter = &keyLogFile{path: conf.keyLogFile, srv: s}
	}
	if rt.suites13 != nil || rt.minStrength > 0 {
		tc.VerifyConnection = rt.checkConnection
	}
	if rt.authenticate {
		pool, err := tlsconf.LoadCAPool(conf.caCerts, conf.caFile, conf.caDir)
		if err != nil {
			return nil, newError(ErrInvalidValue, "%v", err)
		}
		rt.verify = tlsconf.VerifyOptions{Roots: pool, SecurityFlags: conf.securityFlags, IncludeCertChain: conf.includeChain}
		// Ask for any certificate: crypto/tls verifies none, the
		// SSLClientAuthentication event decides. The trusted CAs' names go
		// in the request, so that clients know which certificate to send.
		tc.ClientAuth = tls.RequestClientCert
		tc.ClientCAs = pool
		if conf.checkCRL > 0 || conf.checkOCSP > 0 {
			rt.revocation = tlsconf.NewRevocationChecker(conf.checkCRL, conf.checkOCSP)
		}
	}
	rt.config = tc
	return rt, nil
}

// cipherSuites combines SSLEnabledCipherSuites, OpenSSLCipherList and
// SSLCipherStrength into tls.Config.CipherSuites (TLS 1.0-1.2): the suites
// both lists allow, at least SSLCipherStrength strong. nil stands for
// crypto/tls's defaults.
func (c *sslConfig) cipherSuites() ([]uint16, error) {
	if c.minVersion >= tls.VersionTLS13 {
		return nil, nil // TLS 1.3 suites cannot be configured
	}
	suites := c.enabledSuites
	if c.cipherList != nil {
		if suites == nil {
			suites = c.cipherList
		} else {
			var both []uint16
			for _, id := range suites {
				if containsID(c.cipherList, id) {
					both = append(both, id)
				}
			}
			if len(both) == 0 {
				return nil, newError(ErrInvalidValue, "SSLEnabledCipherSuites and OpenSSLCipherList have no cipher suite in common")
			}
			suites = both
		}
	}
	if suites != nil && len(suites) == 0 {
		return nil, newError(ErrInvalidValue, "SSLEnabledCipherSuites names only TLS 1.3 suites, but SSLEnabledProtocols enables %s: "+
			"name TLS 1.2 suites too, or enable TLS 1.3 only (12288)", tlsconf.VersionName(c.minVersion))
	}
	if c.cipherStrength > 0 {
		var err error
		if suites, err = tlsconf.FilterCipherStrength(suites, c.cipherStrength); err != nil {
			return nil, newError(ErrInvalidValue, "%v", err)
		}
	}
	return suites, nil
}

// checkCertificate makes sure a certificate can sign in every enabled
// version of TLS 1.2 and later under TLS12/TLS13SignatureAlgorithms.
func (rt *tlsRuntime) checkCertificate(cert *tls.Certificate) error {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if v < rt.minVersion || v > rt.maxVersion {
			continue
		}
		if _, err := rt.policy.Restrict(cert, v); err != nil {
			return fmt.Errorf("certificate %s: %w", certstore.Subject(cert.Leaf), err)
		}
	}
	return nil
}

// TLSConfig returns the *tls.Config that StartListening would use with
// UseSSL, for serving TLS through net/http instead: pass the Listen
// listener through tls.NewListener with it and serve upgrades with
// ServeHTTP. It carries the selected certificate and the SSL config
// settings as they are now; SSLConnectionRequest, SSLClientAuthentication
// and SSLStatus fire for its handshakes with ConnectionID 0, as net/http
// runs them before the connection has an ID. LogSSLPackets and
// DefaultConnectionTimeout do not apply (use the http.Server's timeouts),
// and NextProtos must keep HTTP/2 out (http.Server.ServeTLS would add it):
// an HTTP/2 connection cannot be hijacked for a WebSocket. It fails like
// StartListening with UseSSL: 282 without a certificate, 273 without its key.
func (s *Server) TLSConfig() (*tls.Config, error) {
	rt, err := s.buildTLS()
	if err != nil {
		return nil, err
	}
	return rt.config, nil
}

// tlsWire is the net.Conn under a listener connection's tls.Conn. It
// bounds the client's inactivity during the handshake
// (DefaultConnectionTimeout), reports TLS records with LogSSLPackets, and
// carries the connection into crypto/tls's callbacks, which get it back as
// ClientHelloInfo.Conn.
type tlsWire struct {
	net.Conn
	c    *Connection
	idle atomic.Int64 // DefaultConnectionTimeout during the handshake, 0 after
	log  *packetLog   // nil unless LogSSLPackets
	// leaf is the certificate the server presented; written during the
	// handshake, read only after it.
	leaf *x509.Certificate
}

func (w *tlsWire) Read(p []byte) (int, error) {
	if d := time.Duration(w.idle.Load()); d > 0 {
		w.Conn.SetReadDeadline(time.Now().Add(d))
	}
	n, err := w.Conn.Read(p)
	if w.log != nil && n > 0 {
		w.log.received(p[:n])
	}
	return n, err
}

func (w *tlsWire) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	if w.log != nil && n > 0 {
		w.log.sent(p[:n])
	}
	return n, err
}

// serverLeaf returns the certificate the server presented on a TLS
// connection from the listener, or nil.
func serverLeaf(tc *tls.Conn) *x509.Certificate {
	if w, ok := tc.NetConn().(*tlsWire); ok {
		return w.leaf
	}
	return nil
}

// tlsHandshake runs the TLS handshake of a listener connection, firing
// SSLStatus, SSLConnectionRequest and SSLClientAuthentication on the
// connection's goroutine. DefaultConnectionTimeout bounds each wait for the
// client, HandshakeTimeout the whole handshake.
func (s *Server) tlsHandshake(c *Connection, rt *tlsRuntime, cfg *settings) (*tls.Conn, error) {
	w := &tlsWire{Conn: c.sock.NetConn(), c: c}
	idle := time.Duration(cfg.defaultConnectionTimeout) * time.Second
	w.idle.Store(int64(idle))
	if cfg.ssl.conf.logPackets {
		w.log = &packetLog{srv: s, id: c.id}
	}
	if s.sslStatusWanted() {
		s.fireSSLStatus(c.id, fmt.Sprintf("TLS handshake started with %s:%d", c.remoteHost, c.remotePort))
	}
	tc := tls.Server(w, rt.config)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		var why string
		switch {
		case ctx.Err() != nil:
			why = fmt.Sprintf("not complete after HandshakeTimeout (%v)", cfg.handshakeTimeout)
		case errors.Is(err, os.ErrDeadlineExceeded) && idle > 0:
			why = fmt.Sprintf("the client sent nothing for %v (DefaultConnectionTimeout)", idle)
		case errors.Is(err, io.EOF):
			why = "the client closed the connection"
		default:
			why = err.Error()
		}
		s.fireSSLStatus(c.id, "TLS handshake failed: "+why)
		if !errors.Is(err, io.EOF) {
			s.fireError(c.id, &Error{Code: certstore.CodeHandshake, Message: "Error during handshake: " + why, Err: err})
		}
		tc.Close()
		return nil, err
	}
	w.idle.Store(0)
	w.Conn.SetReadDeadline(time.Time{})
	if s.sslStatusWanted() {
		s.fireSSLStatus(c.id, "TLS handshake complete: "+describeConnection(tc.ConnectionState(), w.leaf))
	}
	return tc, nil
}

// describeConnection says what a handshake negotiated, for SSLStatus.
func describeConnection(cs tls.ConnectionState, leaf *x509.Certificate) string {
	n := tlsconf.Describe(cs, leaf)
	msg := fmt.Sprintf("%s, %s (%s, %d bits)", n.Version, n.CipherSuite, n.Cipher, n.CipherStrength)
	if n.KeyExchange != "" {
		msg += fmt.Sprintf(", key exchange %s (%d bits)", n.KeyExchange, n.KeyExchangeStrength)
	}
	if cs.DidResume {
		msg += ", session resumed"
	}
	if len(cs.PeerCertificates) > 0 {
		msg += ", client certificate " + certstore.Subject(cs.PeerCertificates[0])
	}
	return msg
}

// clientHello is one handshake's state in crypto/tls's callbacks.
type clientHello struct {
	rt   *tlsRuntime
	c    *Connection // nil for a handshake net/http runs (TLSConfig)
	id   int
	w    *tlsWire         // nil for a handshake net/http runs
	cert *tls.Certificate // the certificate for this connection
}

// configForClient is tls.Config.GetConfigForClient: it fires SSLStatus
// with the ClientHello and SSLConnectionRequest, and returns the Config
// for this connection when it needs one of its own (a certificate the event
// picked, client authentication bound to the connection).
func (rt *tlsRuntime) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	s := rt.srv
	h := &clientHello{rt: rt, cert: rt.cert}
	if w, ok := hello.Conn.(*tlsWire); ok {
		h.w, h.c, h.id = w, w.c, w.c.id
	}
	if s.sslStatusWanted() {
		s.fireSSLStatus(h.id, describeHello(hello))
	}
	picked := false
	if s.Events.OnSSLConnectionRequest != nil {
		cert, err := h.connectionRequest(hello)
		if err != nil {
			return nil, err
		}
		if cert != nil {
			h.cert, picked = cert, true
		}
	}
	if !picked && !rt.authenticate {
		return nil, nil // rt.config as it is
	}
	conf := rt.config.Clone() // ticket keys stay the original Config's
	conf.GetConfigForClient = nil
	conf.GetCertificate = h.getCertificate
	if rt.authenticate {
		conf.VerifyConnection = h.verifyConnection
	}
	return conf, nil
}

// describeHello summarizes a ClientHello for SSLStatus.
func describeHello(hello *tls.ClientHelloInfo) string {
	var vs []string
	for _, v := range hello.SupportedVersions {
		if v&0x0f0f != 0x0a0a { // not GREASE
			vs = append(vs, tlsconf.VersionName(v))
		}
	}
	msg := fmt.Sprintf("ClientHello: versions %s, %d cipher suites", strings.Join(vs, " "), len(hello.CipherSuites))
	if hello.ServerName != "" {
		msg += fmt.Sprintf(", server name %q", hello.ServerName)
	}
	if len(hello.SupportedProtos) > 0 {
		msg += ", ALPN " + strings.Join(hello.SupportedProtos, " ")
	}
	return msg
}

// getCertificate is tls.Config.GetCertificate of rt.config: the SSLCert
// certificate, limited to the signature algorithms that the settings allow
// in the version about to be negotiated.
func (rt *tlsRuntime) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	w, _ := hello.Conn.(*tlsWire)
	return rt.presentCertificate(rt.cert, hello, w)
}

// getCertificate is GetCertificate for a connection with a Config of its own.
func (h *clientHello) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return h.rt.presentCertificate(h.cert, hello, h.w)
}

func (rt *tlsRuntime) presentCertificate(cert *tls.Certificate, hello *tls.ClientHelloInfo, w *tlsWire) (*tls.Certificate, error) {
	if w != nil {
		w.leaf = cert.Leaf
	}
	v, ok := tlsconf.PredictVersion(hello, rt.minVersion, rt.maxVersion)
	if !ok {
		return cert, nil // crypto/tls refuses the versions itself
	}
	return rt.policy.Restrict(cert, v)
}

// connectionRequest fires SSLConnectionRequest. When the handler names
// another certificate, it returns it, loaded and checked; nil otherwise.
func (h *clientHello) connectionRequest(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	s := h.rt.srv
	suites, sigs := tlsconf.DescribeClientHello(hello)
	s.mu.Lock()
	st := s.cfg.ssl
	s.mu.Unlock()
	ev := &SSLConnectionRequestEvent{
		ConnectionID:           h.id,
		SupportedCipherSuites:  suites,
		SupportedSignatureAlgs: sigs,
		CertStoreType:          st.certStoreType,
		CertStore:              string(st.certStore),
		CertPassword:           st.certStorePassword,
		CertSubject:            st.certSubject,
	}
	before := *ev
	if err := call(s, h.c, "SSLConnectionRequest", s.Events.OnSSLConnectionRequest, ev); err != nil {
		s.reportPanic(h.id, err.(*handlerPanic))
		return nil, err
	}
	if ev.CertStoreType == before.CertStoreType && ev.CertStore == before.CertStore &&
		ev.CertPassword == before.CertPassword && ev.CertSubject == before.CertSubject {
		return nil, nil
	}
	cert, err := h.rt.picked.get(certstore.StoreType(ev.CertStoreType), ev.CertStore, ev.CertPassword, ev.CertSubject)
	if err == nil {
		err = h.rt.checkCertificate(cert)
	}
	if err != nil {
		e := sslError(err).(*Error)
		e.Message = "SSLConnectionRequest: " + e.Message
		s.fireError(h.id, e)
		return nil, e
	}
	if s.sslStatusWanted() {
		s.fireSSLStatus(h.id, "SSLConnectionRequest chose certificate "+certstore.Subject(cert.Leaf))
	}
	return cert, nil
}

// checkConnection is tls.Config.VerifyConnection when SSLCipherStrength or
// a list of TLS 1.3 suites applies: crypto/tls cannot keep a TLS 1.3 suite
// from being negotiated, so the handshake is refused afterwards.
func (rt *tlsRuntime) checkConnection(cs tls.ConnectionState) error {
	if cs.Version >= tls.VersionTLS13 && rt.suites13 != nil && !containsID(rt.suites13, cs.CipherSuite) {
		return fmt.Errorf("negotiated %s, which SSLEnabledCipherSuites does not list (crypto/tls chooses TLS 1.3 suites itself)",
			tls.CipherSuiteName(cs.CipherSuite))
	}
	if rt.minStrength > 0 {
		return tlsconf.CheckNegotiatedStrength(cs, rt.minStrength)
	}
	return nil
}

// verifyConnection is tls.Config.VerifyConnection with
// SSLAuthenticateClients: it verifies the client's certificate, fires
// SSLClientAuthentication and refuses the handshake unless Accept is true.
// It runs for resumed sessions too, with the certificate of the session.
//
// crypto/tls calls it before it checks the client's CertificateVerify
// signature (its proof that it holds the certificate's key); when that
// check fails, the handshake fails after the event.
func (h *clientHello) verifyConnection(cs tls.ConnectionState) error {
	rt, s := h.rt, h.rt.srv
	if err := rt.checkConnection(cs); err != nil {
		return err
	}
	res := tlsconf.VerifyClientCertificate(cs.PeerCertificates, rt.verify)
	if res.Accept {
		if err := rt.policy.CheckPeerCertificate(cs); err != nil {
			res.Status, res.Accept = err.Error(), false
		}
	}
	if res.Accept && rt.revocation != nil {
		if status := rt.revocation.Check(cs.PeerCertificates, res.Chains); status != "" {
			res.Status, res.Accept = status, false
		}
	}
	ev := &SSLClientAuthenticationEvent{
		ConnectionID: h.id,
		CertEncoded:  string(res.CertEncoded),
		CertSubject:  res.CertSubject,
		CertIssuer:   res.CertIssuer,
		Status:       res.Status,
		Accept:       res.Accept,
	}
	if err := call(s, h.c, "SSLClientAuthentication", s.Events.OnSSLClientAuthentication, ev); err != nil {
		s.reportPanic(h.id, err.(*handlerPanic))
		ev.Accept = false
	}
	who := "no client certificate"
	if res.CertSubject != "" {
		who = "client certificate " + res.CertSubject
	}
	if !ev.Accept {
		if s.sslStatusWanted() {
			s.fireSSLStatus(h.id, fmt.Sprintf("Refused %s (%s)", who, res.Status))
		}
		return fmt.Errorf("client certificate refused: %s", res.Status)
	}
	if s.sslStatusWanted() {
		s.fireSSLStatus(h.id, fmt.Sprintf("Accepted %s (%s)", who, res.Status))
	}
	return nil
}

// sslStatusWanted reports whether an SSLStatus message would reach anyone:
// the handler or the Log event at LogLevel 2.
func (s *Server) sslStatusWanted() bool {
	return s.Events.OnSSLStatus != nil || s.logLevel() >= 2
}

// fireSSLStatus fires SSLStatus (and a verbose Log entry) for connection
// id, 0 for a handshake net/http runs. It holds no lock of the connection:
// handshake messages come from the connection's goroutine, before any other
// of its events.
func (s *Server) fireSSLStatus(id int, msg string) {
	s.logf(id, 2, "%s", msg)
	if err := call(s, nil, "SSLStatus", s.Events.OnSSLStatus, &SSLStatusEvent{ConnectionID: id, Message: msg}); err != nil {
		s.reportPanic(id, err.(*handlerPanic))
	}
}

// certCache keeps the certificates SSLConnectionRequest picked, so that a
// store is opened (its file read, a PFX decrypted) once per listening
// session rather than once per connection.
type certCache struct {
	mu    sync.Mutex
	certs map[certKey]*tls.Certificate
}

type certKey struct {
	typ                      certstore.StoreType
	store, password, subject string
}

// maxPickedCerts bounds the cache; when full it starts over.
const maxPickedCerts = 64

func (cc *certCache) get(t certstore.StoreType, store, password, subject string) (*tls.Certificate, error) {
	k := certKey{t, store, password, subject}
	cc.mu.Lock()
	cert := cc.certs[k]
	cc.mu.Unlock()
	if cert != nil {
		return cert, nil
	}
	st, err := certstore.Open(t, []byte(store), password)
	if err != nil {
		return nil, err
	}
	entry, _, err := st.Select(subject)
	if err != nil {
		return nil, err
	}
	c, err := entry.TLSCertificate()
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.certs == nil || len(cc.certs) >= maxPickedCerts {
		cc.certs = make(map[certKey]*tls.Certificate)
	}
	cc.certs[k] = &c
	return &c, nil
}

// keyLogFile is tls.Config.KeyLogWriter for SSLKeyLogFile: each line is
// appended to the file, opened for that write only, so that nothing stays
// open after StopListening. crypto/tls serializes the writes. A failed
// write is reported through the Error event, and the handshake goes on.
type keyLogFile struct {
	path string
	srv  *Server
}

func (k *keyLogFile) Write(p []byte) (int, error) {
	f, err := tlsconf.OpenKeyLog(k.path)
	if err == nil {
		_, err = f.Write(p)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		k.srv.fireError(0, &Error{Code: ErrInvalidValue.Code, Message: "SSLKeyLogFile " + k.path + " cannot be written", Err: err})
	}
	return len(p), nil
}
