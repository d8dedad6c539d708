package wsserver

import (
	"crypto/rand"
	"crypto/x509"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/wiretest"
	"golang.org/x/crypto/ocsp"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

// Tests of SSLCheckCRL and SSLCheckOCSP for client certificates, with a CRL
// server and an OCSP responder on 127.0.0.1.

// revocationAuthority is a CA that publishes a CRL and answers OCSP.
type revocationAuthority struct {
	env *tlsEnv
	srv *httptest.Server

	mu        sync.Mutex
	revoked   map[string]bool // serial numbers
	unknown   bool            // OCSP answers "unknown"
	responder *certtest.Cert  // signs OCSP answers when set (a delegated responder)
	queries   int
}

func newRevocationAuthority(t *testing.T) *revocationAuthority {
	t.Helper()
	ra := &revocationAuthority{env: newTLSEnv(t), revoked: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ca.crl", ra.serveCRL)
	mux.HandleFunc("/ocsp", ra.serveOCSP)
	ra.srv = httptest.NewServer(mux)
	t.Cleanup(ra.srv.Close)
	return ra
}

func (ra *revocationAuthority) revoke(c *certtest.Cert) {
	ra.mu.Lock()
	ra.revoked[c.Cert.SerialNumber.String()] = true
	ra.mu.Unlock()
}

func (ra *revocationAuthority) serveCRL(w http.ResponseWriter, r *http.Request) {
	ra.mu.Lock()
	var entries []x509.RevocationListEntry
	for serial := range ra.revoked {
		n, _ := new(big.Int).SetString(serial, 10)
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: time.Now().Add(-time.Hour)})
	}
	ra.queries++
	ra.mu.Unlock()
	ca := ra.env.ca
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Write(der)
}

func (ra *revocationAuthority) serveOCSP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := ocsp.ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	ra.mu.Lock()
	ra.queries++
	tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: req.SerialNumber,
		ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}
	if ra.revoked[req.SerialNumber.String()] {
		tmpl.Status, tmpl.RevokedAt = ocsp.Revoked, time.Now().Add(-time.Hour)
	} else if ra.unknown {
		tmpl.Status = ocsp.Unknown
	}
	signer := ra.env.ca
	if ra.responder != nil {
		signer = ra.responder
		tmpl.Certificate = ra.responder.Cert
	}
	ra.mu.Unlock()
	resp, err := ocsp.CreateResponse(ra.env.ca.Cert, signer.Cert, tmpl, signer.Key)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Write(resp)
}

// client makes a client certificate that names the authority's CRL and
// OCSP responder (or the given URLs).
func (ra *revocationAuthority) client(t *testing.T, cn string, crl, ocspURL []string) *certtest.Cert {
	t.Helper()
	key := certtest.NewKey(t, certtest.ECDSA)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkixName(cn),
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CRLDistributionPoints: crl, OCSPServer: ocspURL,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ra.env.ca.Cert, key.Public(), ra.env.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &certtest.Cert{Cert: c, Key: key}
}

// start starts a server that authenticates clients against the CA with the
// revocation settings, recording SSLClientAuthentication.
func (ra *revocationAuthority) start(t *testing.T, ev *wiretest.Recorder, settings ...string) *harness {
	t.Helper()
	return ra.env.start(t, func(s *Server) {
		mustOK(t, s.SetSSLAuthenticateClients(true))
		setConfig(t, s, append([]string{"SSLCACerts=" + string(ra.env.ca.CertPEM())}, settings...)...)
		s.Events.OnSSLClientAuthentication = clientAuthLog(ev, nil)
	})
}

// wantStatus connects with the client certificate and checks the Status
// (a prefix) and whether the connection was served.
func (ra *revocationAuthority) wantStatus(t *testing.T, h *harness, ev *wiretest.Recorder, c *certtest.Cert, status string, served bool) {
	t.Helper()
	conf := withClientCert(ra.env.client(), c)
	if served {
		wssOpen(t, h, conf)
	} else {
		wssRefused(t, h, conf)
	}
	subject := "|CN=" + c.Cert.Subject.CommonName + "|"
	list := ev.WaitMatch(t, subject+"...", func(s string) bool { return strings.Contains(s, subject) })
	for _, s := range list {
		if strings.Contains(s, subject) {
			if _, rest, _ := strings.Cut(s, "|CN=Test CA, O=Test CA Org|"); !strings.HasPrefix(rest, status) {
				t.Errorf("%s: Status and Accept %q, want %q...", c.Cert.Subject.CommonName, rest, status)
			}
		}
	}
}

func TestSSLCheckCRL_ClientCertificates(t *testing.T) {
	checkGoroutines(t)
	ra := newRevocationAuthority(t)
	crl := []string{ra.srv.URL + "/ca.crl"}
	good := ra.client(t, "good.test", crl, nil)
	revoked := ra.client(t, "revoked.test", crl, nil)
	ra.revoke(revoked)
	noCRL := ra.client(t, "no-crl.test", nil, nil)
	deadURL := ra.client(t, "dead-crl.test", []string{"http://127.0.0.1:1/ca.crl"}, nil)

	for _, mode := range []string{"1", "2"} {
		ev := wiretest.NewRecorder()
		h := ra.start(t, ev, "SSLCheckCRL="+mode)
		ra.wantStatus(t, h, ev, good, "OK|true", true)
		ra.wantStatus(t, h, ev, revoked, "certificate revoked on ", false)
		if mode == "1" { // when the status cannot be learned, mode 1 goes on
			ra.wantStatus(t, h, ev, noCRL, "OK|true", true)
			ra.wantStatus(t, h, ev, deadURL, "OK|true", true)
		} else {
			ra.wantStatus(t, h, ev, noCRL, "revocation status unknown (SSLCheckCRL=2): the certificate names no HTTP CRL distribution point", false)
			ra.wantStatus(t, h, ev, deadURL, "revocation status unknown (SSLCheckCRL=2): ", false)
		}
	}
	// The CRL is fetched once per listening session while it is current.
	ra.mu.Lock()
	queries := ra.queries
	ra.mu.Unlock()
	if queries != 2 {
		t.Errorf("the CRL was fetched %d times for two listening sessions", queries)
	}
}

func TestSSLCheckOCSP_ClientCertificates(t *testing.T) {
	checkGoroutines(t)
	ra := newRevocationAuthority(t)
	responder := []string{ra.srv.URL + "/ocsp"}
	good := ra.client(t, "good.test", nil, responder)
	revoked := ra.client(t, "revoked.test", nil, responder)
	ra.revoke(revoked)
	noOCSP := ra.client(t, "no-ocsp.test", nil, nil)

	for _, mode := range []string{"1", "2"} {
		ev := wiretest.NewRecorder()
		h := ra.start(t, ev, "SSLCheckOCSP="+mode)
		ra.wantStatus(t, h, ev, good, "OK|true", true)
		ra.wantStatus(t, h, ev, revoked, "certificate revoked on ", false)
		if mode == "1" {
			ra.wantStatus(t, h, ev, noOCSP, "OK|true", true)
		} else {
			ra.wantStatus(t, h, ev, noOCSP, "revocation status unknown (SSLCheckOCSP=2): the certificate names no HTTP OCSP responder", false)
		}
	}

	// "unknown" answers, and a delegated responder not authorized for OCSP
	// signing: the status cannot be learned.
	ra.mu.Lock()
	ra.unknown = true
	ra.mu.Unlock()
	ev := wiretest.NewRecorder()
	h := ra.start(t, ev, "SSLCheckOCSP=2")
	unknown := ra.client(t, "unknown.test", nil, responder)
	ra.wantStatus(t, h, ev, unknown, "revocation status unknown (SSLCheckOCSP=2): OCSP "+responder[0]+": the responder does not know the certificate", false)

	ra.mu.Lock()
	ra.unknown = false
	ra.responder = certtest.NewLeaf(t, ra.env.ca, "responder.test", certtest.ECDSA) // no OCSPSigning usage
	ra.mu.Unlock()
	h = ra.start(t, ev, "SSLCheckOCSP=2")
	delegated := ra.client(t, "delegated.test", nil, responder)
	ra.wantStatus(t, h, ev, delegated, "revocation status unknown (SSLCheckOCSP=2): OCSP "+responder[0]+": the responder's certificate is not authorized", false)

	ra.mu.Lock()
	ra.responder = certtest.New(t, ra.env.ca, certtest.Options{Subject: pkixName("ocsp.test"),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}})
	ra.mu.Unlock()
	h = ra.start(t, ev, "SSLCheckOCSP=2")
	authorized := ra.client(t, "authorized.test", nil, responder)
	ra.wantStatus(t, h, ev, authorized, "OK|true", true)
}

func TestSSLCheckCRLAndOCSP_HandlerDecides(t *testing.T) {
	// A revoked certificate is a recommendation like any other: the
	// handler's Accept decides.
	checkGoroutines(t)
	ra := newRevocationAuthority(t)
	revoked := ra.client(t, "revoked.test", []string{ra.srv.URL + "/ca.crl"}, []string{ra.srv.URL + "/ocsp"})
	ra.revoke(revoked)
	ev := wiretest.NewRecorder()
	h := ra.env.start(t, func(s *Server) {
		mustOK(t, s.SetSSLAuthenticateClients(true))
		setConfig(t, s, "SSLCACerts="+string(ra.env.ca.CertPEM()), "SSLCheckCRL=1", "SSLCheckOCSP=1")
		s.Events.OnSSLClientAuthentication = clientAuthLog(ev, func(e *SSLClientAuthenticationEvent) { e.Accept = true })
	})
	wssOpen(t, h, withClientCert(ra.env.client(), revoked))
	ev.WaitMatch(t, "revoked, by the CRL", func(s string) bool {
		return strings.Contains(s, "certificate revoked on") && strings.Contains(s, "(CRL ")
	})
}
