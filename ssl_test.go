package wsserver

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/certstore/certtest"
	"github.com/wsserver/wsserver/internal/wiretest"
	"software.sslmate.com/src/go-pkcs12"
)

// Tests of the SSL properties and events through the public API: UseSSL
// with a certificate selected by the SSLCert properties, SSLStatus,
// SSLConnectionRequest, SSLClientAuthentication, the SSLNegotiated settings
// and DefaultConnectionTimeout. The TLS configuration settings themselves
// are tested in internal/tlsconf.

// pemKeyBlob returns a certificate with its key as a PEMKeyBlob store.
func pemKeyBlob(t *testing.T, c *certtest.Cert) string {
	t.Helper()
	return string(c.CertPEM()) + string(c.KeyPEM(t))
}

// tlsHarness starts a TLS server on 127.0.0.1 with a leaf for
// "server.test" signed by a test CA, and returns a client configuration
// that trusts the CA.
func tlsHarness(t *testing.T, setup func(*Server)) (*harness, *tls.Config, *certtest.Cert) {
	t.Helper()
	ca := certtest.NewCA(t, "Test CA")
	leaf := certtest.NewLeaf(t, ca, "server.test", certtest.ECDSA)
	h := newHarness(t, func(s *Server) {
		if s.UseSSL() {
			t.Fatal("UseSSL default is true")
		}
		if s.SSLCertStore() != "MY" || s.SSLCertStoreType() != 0 || s.SSLCertSubject() != "" || s.SSLAuthenticateClients() {
			t.Fatalf("SSL property defaults: store %q type %d subject %q authenticate %v",
				s.SSLCertStore(), s.SSLCertStoreType(), s.SSLCertSubject(), s.SSLAuthenticateClients())
		}
		must(t, s.SetSSLCertStoreType(7)) // cstPEMKeyBlob
		must(t, s.SetSSLCertStore(pemKeyBlob(t, leaf)))
		must(t, s.SetSSLCertSubject("*"))
		must(t, s.SetUseSSL(true))
		if setup != nil {
			setup(s)
		}
	})
	h.url = strings.Replace(h.url, "ws://", "wss://", 1)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return h, &tls.Config{RootCAs: pool, ServerName: "server.test"}, ca
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dialTLS opens a gorilla wss client.
func dialTLS(h *harness, conf *tls.Config) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: waitLimit, TLSClientConfig: conf}
	conn, _, err := d.Dial(h.url, nil)
	return conn, err
}

func TestUseSSL_SSLStatusAndSSLConnectionRequest(t *testing.T) {
	ev := wiretest.NewRecorder()
	h, conf, _ := tlsHarness(t, func(s *Server) {
		s.Config("BufferMessage=true")
		s.Events.OnSSLStatus = func(e *SSLStatusEvent) { ev.Add("SSLStatus %d", e.ConnectionID) }
		s.Events.OnSSLConnectionRequest = func(e *SSLConnectionRequestEvent) {
			ev.Add("SSLConnectionRequest %d %v %v", e.ConnectionID, e.SupportedCipherSuites != "", e.SupportedSignatureAlgs != "")
		}
		s.Events.OnDataIn = func(e *DataInEvent) { s.SendText(e.ConnectionID, "secure "+e.Text()) }
	})
	if got := h.s.SSLCertSubject(); got != "CN=server.test" {
		t.Fatalf("SSLCertSubject after selecting \"*\" = %q, want the full subject", got)
	}
	conn, err := dialTLS(h, conf)
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer conn.Close()
	id := h.nextID(t)
	ev.WaitFor(t, "SSLStatus "+strconv.Itoa(id))
	ev.WaitFor(t, "SSLConnectionRequest "+strconv.Itoa(id)+" true true")
	conn.WriteMessage(websocket.TextMessage, []byte("hello"))
	if _, p := readMessage(t, conn); string(p) != "secure hello" {
		t.Fatalf("client got %q", p)
	}
	cs := conn.UnderlyingConn().(*tls.Conn).ConnectionState()
	key := "[" + strconv.Itoa(id) + "]"
	if v, _ := h.s.Config("SSLNegotiatedVersion" + key); v == "" || !strings.Contains(v, "1.") {
		t.Fatalf("SSLNegotiatedVersion = %q", v)
	}
	if v, _ := h.s.Config("SSLNegotiatedCipherSuite" + key); v != tls.CipherSuiteName(cs.CipherSuite) {
		t.Fatalf("SSLNegotiatedCipherSuite = %q, client negotiated %s", v, tls.CipherSuiteName(cs.CipherSuite))
	}
	// A plaintext client is not served.
	if c, _, err := websocket.DefaultDialer.Dial(strings.Replace(h.url, "wss://", "ws://", 1), nil); err == nil {
		c.Close()
		t.Fatal("a plaintext client opened a WebSocket on a UseSSL server")
	}
}

func TestSSLConnectionRequest_SelectsAnotherCertificate(t *testing.T) {
	var other string
	h, _, ca := tlsHarness(t, func(s *Server) {
		s.Events.OnSSLConnectionRequest = func(e *SSLConnectionRequestEvent) {
			e.CertStoreType, e.CertStore, e.CertSubject = 7, other, "*"
		}
	})
	other = pemKeyBlob(t, certtest.NewLeaf(t, ca, "other.test", certtest.RSA))
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	conn, err := dialTLS(h, &tls.Config{RootCAs: pool, ServerName: "other.test"})
	if err != nil {
		t.Fatalf("wss dial expecting other.test: %v", err)
	}
	defer conn.Close()
	h.nextID(t)
	if cn := conn.UnderlyingConn().(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "other.test" {
		t.Fatalf("server presented %q", cn)
	}
}

func TestSSLClientAuthentication(t *testing.T) {
	// The event reports the client's certificate; Accept starts as
	// Status == "OK" and the handler's value decides. (Which CAs make the
	// Status OK is the TLS settings' business, tested with them.)
	ev := wiretest.NewRecorder()
	var accept atomic.Bool
	h, conf, ca := tlsHarness(t, func(s *Server) {
		must(t, s.SetSSLAuthenticateClients(true))
		s.Events.OnSSLClientAuthentication = func(e *SSLClientAuthenticationEvent) {
			ev.Add("SSLClientAuthentication %d|%s|%s|%v|%v", e.ConnectionID, e.CertSubject, e.CertIssuer,
				e.Accept == (e.Status == "OK"), strings.Contains(e.CertEncoded, "BEGIN CERTIFICATE"))
			e.Accept = accept.Load()
		}
	})
	client := certtest.NewLeaf(t, ca, "client.test", certtest.ECDSA)
	clientConf := conf.Clone()
	clientConf.Certificates = []tls.Certificate{{Certificate: [][]byte{client.Cert.Raw}, PrivateKey: client.Key}}

	accept.Store(true)
	conn, err := dialTLS(h, clientConf)
	if err != nil {
		t.Fatalf("client accepted by the handler: %v", err)
	}
	conn.Close()
	id := h.nextID(t)
	ev.WaitFor(t, "SSLClientAuthentication "+strconv.Itoa(id)+"|CN=client.test|CN=Test CA, O=Test CA Org|true|true")
	wiretest.WaitUntil(t, "the closed client's connection to end", func() bool { return h.s.ConnectionCount() == 0 })

	accept.Store(false)
	if conn, err := dialTLS(h, clientConf); err == nil {
		// A TLS 1.3 client learns of the refusal on its first read.
		conn.SetReadDeadline(time.Now().Add(waitLimit))
		_, _, err = conn.ReadMessage()
		conn.Close()
		if err == nil {
			t.Fatal("a client refused by SSLClientAuthentication was served")
		}
	}
	if n := h.s.ConnectionCount(); n != 0 {
		t.Fatalf("%d connections after the refusal", n)
	}
}

func TestSSLClientAuthentication_StatusAgainstSSLCACerts(t *testing.T) {
	// Reference, SSLClientAuthentication: "When Accept is False, Status shows
	// why the verification failed (otherwise, Status contains the string
	// "OK")". SSLCACerts names the CAs client certificates verify against.
	ev := wiretest.NewRecorder()
	h, conf, ca := tlsHarness(t, func(s *Server) {
		must(t, s.SetSSLAuthenticateClients(true))
		s.Events.OnSSLClientAuthentication = func(e *SSLClientAuthenticationEvent) {
			ev.Add("%s|%v|%v", e.CertSubject, e.Status == "OK", e.Accept)
		}
	})
	if _, err := h.s.Config("SSLCACerts=" + string(ca.CertPEM())); err != nil {
		t.Fatal(err)
	}
	// SSLCACerts applies from the next StartListening.
	h.s.StopListening()
	must(t, h.s.StartListening())
	h.url = "wss://127.0.0.1:" + strconv.Itoa(h.s.LocalPort())

	for _, tc := range []struct {
		cert *certtest.Cert
		ok   bool
	}{
		{certtest.NewLeaf(t, ca, "client.test", certtest.ECDSA), true},
		{certtest.NewLeaf(t, nil, "stranger.test", certtest.ECDSA), false},
	} {
		cc := conf.Clone()
		cert := &tls.Certificate{Certificate: [][]byte{tc.cert.Cert.Raw}, PrivateKey: tc.cert.Key}
		// Sent even when its issuer is not among the CAs the server names.
		cc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		conn, err := dialTLS(h, cc)
		if err == nil {
			if tc.ok {
				h.nextID(t)
			} else {
				conn.SetReadDeadline(time.Now().Add(waitLimit))
				_, _, err = conn.ReadMessage()
			}
			conn.Close()
		}
		if (err == nil) != tc.ok {
			t.Fatalf("%s: served %v, want %v (%v)", tc.cert.Cert.Subject, err == nil, tc.ok, err)
		}
		want := fmt.Sprintf("CN=%s|%v|%v", tc.cert.Cert.Subject.CommonName, tc.ok, tc.ok)
		ev.WaitFor(t, want)
	}
}

func TestConfig_DefaultConnectionTimeout(t *testing.T) {
	// Reference: "the inactivity (in seconds) to apply to incoming Secure
	// Sockets Layer (SSL) connections" during the handshake.
	h, _, _ := tlsHarness(t, func(s *Server) {
		if _, err := s.Config("DefaultConnectionTimeout=1"); err != nil {
			t.Fatal(err)
		}
	})
	nc, err := net.DialTimeout("tcp", h.addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// No ClientHello: the server gives up after a second of inactivity
	// (HandshakeTimeout alone would take 30).
	wiretest.Wrap(nc, 0).ReadEOF(t)
}

func TestSSLCertProperties_PFXWithPasswordAndEncoded(t *testing.T) {
	ca := certtest.NewCA(t, "Test CA")
	leaf := certtest.NewLeaf(t, ca, "pfx.test", certtest.ECDSA)
	pfx, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	must(t, s.SetSSLCertStoreType(3)) // cstPFXBlob
	must(t, s.SetSSLCertStoreB(pfx))
	if !bytes.Equal(s.SSLCertStoreB(), pfx) {
		t.Fatal("SSLCertStoreB does not read back the store")
	}
	// SSLCertStorePassword opens the store; a wrong one cannot (271).
	must(t, s.SetSSLCertStorePassword("wrong"))
	if err := s.SetSSLCertSubject("*"); wsErrCode(err) != 271 || s.SSLCertSubject() != "" {
		t.Fatalf("SSLCertSubject with a wrong password: %v, subject %q; want 271 and none selected", err, s.SSLCertSubject())
	}
	must(t, s.SetSSLCertStorePassword("s3cret"))
	if s.SSLCertStorePassword() != "s3cret" {
		t.Fatal("SSLCertStorePassword does not read back")
	}
	// Reference, SSLCertSubject: exact, then partial matches; the property
	// then holds the full subject.
	must(t, s.SetSSLCertSubject("pfx"))
	if got := s.SSLCertSubject(); got != "CN=pfx.test" {
		t.Fatalf("SSLCertSubject after a partial match = %q", got)
	}
	if err := s.SetSSLCertSubject("CN=nobody"); wsErrCode(err) != 272 || s.SSLCertSubject() != "" {
		t.Fatalf("SSLCertSubject of no certificate: %v, subject %q; want 272", err, s.SSLCertSubject())
	}

	// SSLCertEncoded with the key in the same text selects it directly.
	s2 := New()
	must(t, s2.SetSSLCertEncoded(pemKeyBlob(t, leaf)))
	if got := s2.SSLCertSubject(); got != "CN=pfx.test" {
		t.Fatalf("SSLCertSubject after SSLCertEncoded = %q", got)
	}
	if !strings.Contains(s2.SSLCertEncoded(), "BEGIN CERTIFICATE") {
		t.Fatalf("SSLCertEncoded reads %q", s2.SSLCertEncoded())
	}
	checkGoroutines(t)
	must(t, s2.SetUseSSL(true))
	startServer(t, s2)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	conn, _, err := (&websocket.Dialer{HandshakeTimeout: waitLimit, TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "pfx.test"}}).
		Dial("wss://127.0.0.1:"+strconv.Itoa(s2.LocalPort()), nil)
	if err != nil {
		t.Fatalf("wss dial with the SSLCertEncoded certificate: %v", err)
	}
	conn.Close()
}
