package wsserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/certstore/certtest"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of mutual TLS: SSLAuthenticateClients, the SSLClientAuthentication
// event and the trusted CAs (SSLCACerts, OpenSSLCAFile, OpenSSLCADir).

// clientAuthLog records SSLClientAuthentication events as
// "id|subject|issuer|status|accept|certificates".
func clientAuthLog(ev *wiretest.Recorder, decide func(e *SSLClientAuthenticationEvent)) func(*SSLClientAuthenticationEvent) {
	return func(e *SSLClientAuthenticationEvent) {
		ev.Add("%d|%s|%s|%s|%v|%d", e.ConnectionID, e.CertSubject, e.CertIssuer, e.Status, e.Accept,
			strings.Count(e.CertEncoded, "BEGIN CERTIFICATE"))
		if decide != nil {
			decide(e)
		}
	}
}

// withClientCert returns conf presenting the certificate chain, even when
// its issuer is not among the CAs the server names (a Go client would
// otherwise send none).
func withClientCert(conf *tls.Config, chain ...*certtest.Cert) *tls.Config {
	c := conf.Clone()
	cert := &tls.Certificate{PrivateKey: chain[0].Key, Leaf: chain[0].Cert}
	for _, x := range chain {
		cert.Certificate = append(cert.Certificate, x.Cert.Raw)
	}
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	return c
}

func TestSSLAuthenticateClients_TrustedCASources(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	client := certtest.NewLeaf(t, env.ca, "client.test", certtest.ECDSA)
	dir := t.TempDir()
	caFile := writeTemp(t, dir, "ca-bundle.pem", append([]byte("Test CA, for the tests\n"), env.ca.CertPEM()...))
	caDir := filepath.Join(dir, "certs")
	if err := os.Mkdir(caDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeTemp(t, caDir, "9d66eef0.0", env.ca.CertPEM()) // a c_rehash name
	for _, source := range []string{"SSLCACerts=" + string(env.ca.CertPEM()), "OpenSSLCAFile=" + caFile, "OpenSSLCADir=" + caDir} {
		name, _, _ := strings.Cut(source, "=")
		t.Run(name, func(t *testing.T) {
			ev := wiretest.NewRecorder()
			h := env.start(t, func(s *Server) {
				mustOK(t, s.SetSSLAuthenticateClients(true))
				setConfig(t, s, source, "BufferMessage=True")
				s.Events.OnSSLClientAuthentication = clientAuthLog(ev, nil)
				s.Events.OnDataIn = func(e *DataInEvent) { s.SendText(e.ConnectionID, "hello "+e.Text()) }
			})
			conn, cs, id := wssOpen(t, h, withClientCert(env.client(), client))
			if len(cs.PeerCertificates) == 0 {
				t.Fatal("no server certificate")
			}
			ev.WaitFor(t, strconv.Itoa(id)+"|CN=client.test|CN=Test CA, O=Test CA Org|OK|true|1")
			conn.WriteMessage(websocket.TextMessage, []byte("client.test"))
			if _, p := readMessage(t, conn); string(p) != "hello client.test" {
				t.Fatalf("echo %q", p)
			}
		})
	}
}

func TestSSLClientAuthentication_RefusedAndOverridden(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	good := certtest.NewLeaf(t, env.ca, "client.test", certtest.ECDSA)
	otherCA := certtest.NewCA(t, "Other CA")
	stranger := certtest.NewLeaf(t, otherCA, "stranger.test", certtest.ECDSA)
	expired := certtest.New(t, env.ca, certtest.Options{Subject: pkixName("expired.test"),
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	serverOnly := certtest.New(t, env.ca, certtest.Options{Subject: pkixName("server-usage.test"),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})

	for _, protocols := range []string{"3072", "12288"} { // a TLS 1.3 client learns of a refusal after its handshake
		t.Run("SSLEnabledProtocols="+protocols, func(t *testing.T) {
			var override atomic.Value // the Accept the handler sets, by subject
			override.Store(map[string]bool{})
			ev := wiretest.NewRecorder()
			h := env.start(t, func(s *Server) {
				mustOK(t, s.SetSSLAuthenticateClients(true))
				setConfig(t, s, "SSLEnabledProtocols="+protocols, "SSLCACerts="+string(env.ca.CertPEM()))
				s.Events.OnSSLClientAuthentication = clientAuthLog(ev, func(e *SSLClientAuthenticationEvent) {
					if a, ok := override.Load().(map[string]bool)[e.CertSubject]; ok {
						e.Accept = a
					}
				})
			})
			refused := func(conf *tls.Config, record string) {
				t.Helper()
				wssRefused(t, h, conf)
				ev.WaitMatch(t, record, func(s string) bool { return strings.HasSuffix(s, record) })
			}
			refused(withClientCert(env.client(), stranger), "|CN=stranger.test|CN=Other CA, O=Test CA Org|unknown certificate authority|false|1")
			refused(withClientCert(env.client(), expired), "|CN=expired.test|CN=Test CA, O=Test CA Org|certificate has expired or is not yet valid|false|1")
			refused(withClientCert(env.client(), serverOnly), "|CN=server-usage.test|CN=Test CA, O=Test CA Org|certificate is not valid for client authentication (wrong usage)|false|1")
			refused(env.client(), "|||the client sent no certificate|false|0")

			// The handler's Accept decides, both ways.
			override.Store(map[string]bool{"CN=client.test": false, "CN=stranger.test": true, "": true})
			refused(withClientCert(env.client(), good), "|CN=client.test|CN=Test CA, O=Test CA Org|OK|true|1")
			wssOpen(t, h, withClientCert(env.client(), stranger))
			wssOpen(t, h, env.client()) // no certificate, allowed by the handler
			if n := h.s.ConnectionCount(); n != 2 {
				t.Fatalf("%d connections open, want the two the handler accepted", n)
			}
		})
	}
}

func TestSSLSecurityFlags_RelaxClientChecks(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	expired := certtest.New(t, env.ca, certtest.Options{Subject: pkixName("expired.test"),
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	stranger := certtest.NewLeaf(t, certtest.NewCA(t, "Other CA"), "stranger.test", certtest.ECDSA)
	for _, c := range []struct {
		flags  string
		client *certtest.Cert
	}{
		{"0x1", expired},   // ignore time validity
		{"0x10", stranger}, // allow unknown CA
		{"0x11", expired},  // both
		{"0x10", stranger}, // again, with the flags or-ed below
		{"17", expired},    // decimal
		{"0x30", stranger}, // unknown CA and wrong usage
		{"0x80000010", stranger},
	} {
		ev := wiretest.NewRecorder()
		h := env.start(t, func(s *Server) {
			mustOK(t, s.SetSSLAuthenticateClients(true))
			setConfig(t, s, "SSLCACerts="+string(env.ca.CertPEM()), "SSLSecurityFlags="+c.flags)
			s.Events.OnSSLClientAuthentication = clientAuthLog(ev, nil)
		})
		_, _, id := wssOpen(t, h, withClientCert(env.client(), c.client))
		ev.WaitMatch(t, "OK with flags "+c.flags, func(s string) bool {
			return strings.HasPrefix(s, strconv.Itoa(id)+"|") && strings.Contains(s, "|OK|true|")
		})
	}
}

func TestSSLIncludeCertChain_CertEncoded(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	inter := certtest.New(t, env.ca, certtest.Options{Subject: pkixName("Test Intermediate"), IsCA: true})
	client := certtest.NewLeaf(t, inter, "client.test", certtest.ECDSA)
	for _, c := range []struct {
		include string
		certs   int
	}{{"False", 1}, {"True", 2}} {
		ev := wiretest.NewRecorder()
		h := env.start(t, func(s *Server) {
			mustOK(t, s.SetSSLAuthenticateClients(true))
			setConfig(t, s, "SSLCACerts="+string(env.ca.CertPEM()), "SSLIncludeCertChain="+c.include)
			s.Events.OnSSLClientAuthentication = clientAuthLog(ev, nil)
		})
		_, _, id := wssOpen(t, h, withClientCert(env.client(), client, inter))
		ev.WaitFor(t, fmt.Sprintf("%d|CN=client.test|CN=Test Intermediate|OK|true|%d", id, c.certs))
	}
}

func TestSSLClientAuthentication_SignatureAlgorithmOfClientCertificate(t *testing.T) {
	// TLS12SignatureAlgorithms also limits how the client's certificate may
	// be signed, as the reference limits the peer's certificate.
	checkGoroutines(t)
	env := newTLSEnv(t) // the CA signs with ECDSA-SHA256
	client := certtest.NewLeaf(t, env.ca, "client.test", certtest.ECDSA)
	ev := wiretest.NewRecorder()
	h := env.start(t, func(s *Server) {
		mustOK(t, s.SetSSLAuthenticateClients(true))
		setConfig(t, s, "SSLCACerts="+string(env.ca.CertPEM()), "SSLEnabledProtocols=3072", "TLS12SignatureAlgorithms=sha384-ecdsa")
		s.Events.OnSSLClientAuthentication = clientAuthLog(ev, nil)
	})
	wssRefused(t, h, withClientCert(env.client(), client))
	ev.WaitMatch(t, "refused for its signature", func(s string) bool {
		return strings.Contains(s, "|TLS12SignatureAlgorithms:") && strings.HasSuffix(s, "|false|1")
	})
}

func TestSSLAuthenticateClients_OpenSSLClient(t *testing.T) {
	checkGoroutines(t)
	env := newTLSEnv(t)
	client := certtest.NewLeaf(t, env.ca, "client.test", certtest.RSA)
	dir := t.TempDir()
	certFile := writeTemp(t, dir, "client.pem", client.CertPEM())
	keyFile := writeTemp(t, dir, "client.key", client.KeyPEM(t))
	ev := wiretest.NewRecorder()
	h := env.start(t, func(s *Server) {
		mustOK(t, s.SetSSLAuthenticateClients(true))
		setConfig(t, s, "SSLCACerts="+string(env.ca.CertPEM()), "SSLEnabledProtocols=15360")
		s.Events.OnSSLClientAuthentication = clientAuthLog(ev, nil)
	})
	for _, version := range []string{"-tls1_2", "-tls1_3"} {
		r := runSClient(t, h.addr, version, "-cert", certFile, "-key", keyFile)
		if !r.upgraded {
			t.Fatalf("s_client %s with a client certificate:\n%s", version, r.out)
		}
		// The trusted CAs are named in the certificate request.
		if !strings.Contains(r.out, "Acceptable client certificate CA names") || !strings.Contains(r.out, "CN = Test CA") {
			t.Fatalf("s_client %s saw no acceptable CA names:\n%s", version, r.out)
		}
		if r := runSClient(t, h.addr, version); r.upgraded {
			t.Fatalf("s_client %s without a certificate was served:\n%s", version, r.out)
		}
	}
	ev.WaitMatch(t, "an accepted openssl client", func(s string) bool {
		return strings.HasSuffix(s, "|CN=client.test|CN=Test CA, O=Test CA Org|OK|true|1")
	})
}

func TestSSLClientAuthentication_ResumedSessionChecksAgain(t *testing.T) {
	// The event fires for a resumed session too, with the certificate the
	// session was made with, so a decision can change.
	checkGoroutines(t)
	env := newTLSEnv(t)
	client := certtest.NewLeaf(t, env.ca, "client.test", certtest.ECDSA)
	var accept atomic.Bool
	accept.Store(true)
	ev := wiretest.NewRecorder()
	h := env.start(t, func(s *Server) {
		mustOK(t, s.SetSSLAuthenticateClients(true))
		setConfig(t, s, "SSLCACerts="+string(env.ca.CertPEM()))
		s.Events.OnSSLClientAuthentication = clientAuthLog(ev, func(e *SSLClientAuthenticationEvent) { e.Accept = accept.Load() })
	})
	conf := withClientCert(env.client(), client)
	conf.ClientSessionCache = tls.NewLRUClientSessionCache(2)
	first, _, id := wssOpen(t, h, conf)
	first.Close()
	_, cs, id2 := wssOpen(t, h, conf)
	if !cs.DidResume {
		t.Fatal("the second connection did not resume")
	}
	for _, i := range []int{id, id2} {
		ev.WaitFor(t, strconv.Itoa(i)+"|CN=client.test|CN=Test CA, O=Test CA Org|OK|true|1")
	}
	accept.Store(false)
	wssRefused(t, h, conf)
}
