package tlsconf

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// RevocationChecker checks client certificates for revocation (SSLCheckCRL,
// SSLCheckOCSP): through the CRLs their distribution points name and the
// OCSP responders their authority information access names, over HTTP.
// Mode 1 refuses a revoked certificate and lets one whose status cannot be
// learned through (no distribution point or responder, unreachable,
// unusable answer); mode 2 refuses both.
//
// Only the client's own certificate is checked, not its issuers, as the
// reference checks the peer's certificate. Answers are cached until their
// next update, for one listening session.
type RevocationChecker struct {
	crlMode, ocspMode int
	client            *http.Client

	mu   sync.Mutex // guards the caches
	crls map[string]*x509.RevocationList
	ocsp map[string]*ocsp.Response // by issuer key and serial number
}

// revocationTimeout bounds each CRL download and OCSP query; they run inside
// the TLS handshake.
const revocationTimeout = 10 * time.Second

// Limits on what a CRL server or OCSP responder may send, and on the caches.
const (
	maxCRLSize       = 32 << 20
	maxOCSPSize      = 1 << 20
	maxCachedAnswers = 256
	clockSkew        = 5 * time.Minute
)

// NewRevocationChecker returns a checker for the modes of SSLCheckCRL and
// SSLCheckOCSP (0 off, 1 refuse the revoked, 2 also refuse the unknown).
func NewRevocationChecker(crlMode, ocspMode int) *RevocationChecker {
	// No keep-alive: queries are rare (answers are cached), and nothing
	// would close idle connections when the server stops listening.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	return &RevocationChecker{crlMode: crlMode, ocspMode: ocspMode, client: &http.Client{Timeout: revocationTimeout, Transport: tr}}
}

// Check checks the leaf of chain (as the client sent it; verified are the
// chains it verified to, if any) and returns "" when it may be used, or why
// not: the Status of SSLClientAuthentication.
func (rc *RevocationChecker) Check(chain []*x509.Certificate, verified [][]*x509.Certificate) string {
	if len(chain) == 0 {
		return ""
	}
	leaf, issuer := chain[0], issuerOf(chain, verified)
	if rc.crlMode > 0 {
		if status := rc.checkCRL(leaf, issuer); status != "" {
			return status
		}
	}
	if rc.ocspMode > 0 {
		if status := rc.checkOCSP(leaf, issuer); status != "" {
			return status
		}
	}
	return ""
}

// issuerOf returns the leaf's issuer: from a verified chain, else the
// next certificate the client sent when it signed the leaf; nil otherwise.
func issuerOf(chain []*x509.Certificate, verified [][]*x509.Certificate) *x509.Certificate {
	for _, v := range verified {
		if len(v) > 1 {
			return v[1]
		}
	}
	if len(chain) > 1 && chain[0].CheckSignatureFrom(chain[1]) == nil {
		return chain[1]
	}
	return nil
}

// unknown is the answer when the status could not be learned: nothing in
// mode 1, a refusal in mode 2.
func unknown(mode int, setting, why string) string {
	if mode < 2 {
		return ""
	}
	return fmt.Sprintf("revocation status unknown (%s=2): %s", setting, why)
}

func (rc *RevocationChecker) checkCRL(leaf, issuer *x509.Certificate) string {
	urls := httpURLs(leaf.CRLDistributionPoints)
	if len(urls) == 0 {
		return unknown(rc.crlMode, "SSLCheckCRL", "the certificate names no HTTP CRL distribution point")
	}
	if issuer == nil {
		return unknown(rc.crlMode, "SSLCheckCRL", "the certificate's issuer is unknown, so its CRL cannot be verified")
	}
	var problems []string
	for _, u := range urls {
		crl, err := rc.fetchCRL(u, issuer)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				return fmt.Sprintf("certificate revoked on %s (CRL %s)", e.RevocationTime.UTC().Format(time.RFC3339), u)
			}
		}
		return ""
	}
	return unknown(rc.crlMode, "SSLCheckCRL", strings.Join(problems, "; "))
}

// fetchCRL returns the CRL at url, signed by issuer and current: from the
// cache, or downloaded.
func (rc *RevocationChecker) fetchCRL(url string, issuer *x509.Certificate) (*x509.RevocationList, error) {
	now := time.Now()
	rc.mu.Lock()
	crl := rc.crls[url]
	rc.mu.Unlock()
	if crl != nil && now.Before(crl.NextUpdate) && crl.CheckSignatureFrom(issuer) == nil {
		return crl, nil
	}
	body, err := rc.get(url, "", nil, maxCRLSize)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(body); block != nil && block.Type == "X509 CRL" {
		body = block.Bytes
	}
	crl, err = x509.ParseRevocationList(body)
	if err != nil {
		return nil, fmt.Errorf("CRL %s: %v", url, err)
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return nil, fmt.Errorf("CRL %s is not issued by the certificate's issuer", url)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("CRL %s: bad signature: %v", url, err)
	}
	if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate.Add(clockSkew)) {
		return nil, fmt.Errorf("CRL %s is out of date (next update %s)", url, crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	if !crl.NextUpdate.IsZero() {
		rc.mu.Lock()
		if rc.crls == nil || len(rc.crls) >= maxCachedAnswers {
			rc.crls = make(map[string]*x509.RevocationList)
		}
		rc.crls[url] = crl
		rc.mu.Unlock()
	}
	return crl, nil
}

func (rc *RevocationChecker) checkOCSP(leaf, issuer *x509.Certificate) string {
	urls := httpURLs(leaf.OCSPServer)
	if len(urls) == 0 {
		return unknown(rc.ocspMode, "SSLCheckOCSP", "the certificate names no HTTP OCSP responder")
	}
	if issuer == nil {
		return unknown(rc.ocspMode, "SSLCheckOCSP", "the certificate's issuer is unknown, so OCSP cannot be asked")
	}
	var problems []string
	for _, u := range urls {
		resp, err := rc.queryOCSP(u, leaf, issuer)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		switch resp.Status {
		case ocsp.Good:
			return ""
		case ocsp.Revoked:
			return fmt.Sprintf("certificate revoked on %s (OCSP %s)", resp.RevokedAt.UTC().Format(time.RFC3339), u)
		default:
			problems = append(problems, "OCSP "+u+": the responder does not know the certificate")
		}
	}
	return unknown(rc.ocspMode, "SSLCheckOCSP", strings.Join(problems, "; "))
}

// queryOCSP asks the responder at url about leaf: a response signed by
// issuer (or a responder it delegated to) and current, from the cache or
// fresh.
func (rc *RevocationChecker) queryOCSP(url string, leaf, issuer *x509.Certificate) (*ocsp.Response, error) {
	now := time.Now()
	key := string(issuer.RawSubjectPublicKeyInfo) + "|" + leaf.SerialNumber.String()
	rc.mu.Lock()
	resp := rc.ocsp[key]
	rc.mu.Unlock()
	if resp != nil && now.Before(resp.NextUpdate) {
		return resp, nil
	}
	req, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		return nil, fmt.Errorf("OCSP %s: %v", url, err)
	}
	body, err := rc.get(url, "application/ocsp-request", req, maxOCSPSize)
	if err != nil {
		return nil, err
	}
	resp, err = ocsp.ParseResponseForCert(body, leaf, issuer)
	if err != nil {
		return nil, fmt.Errorf("OCSP %s: %v", url, err)
	}
	// RFC 6960 section 4.2.2.2: a delegated responder must be authorized
	// for OCSP signing (x/crypto/ocsp checks only that the issuer signed it).
	if c := resp.Certificate; c != nil && !bytes.Equal(c.Raw, issuer.Raw) && !hasUsage(c, x509.ExtKeyUsageOCSPSigning) {
		return nil, fmt.Errorf("OCSP %s: the responder's certificate is not authorized for OCSP signing", url)
	}
	if resp.ThisUpdate.After(now.Add(clockSkew)) {
		return nil, fmt.Errorf("OCSP %s: the response is from the future (%s)", url, resp.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !resp.NextUpdate.IsZero() && now.After(resp.NextUpdate.Add(clockSkew)) {
		return nil, fmt.Errorf("OCSP %s: the response is out of date (next update %s)", url, resp.NextUpdate.UTC().Format(time.RFC3339))
	}
	if !resp.NextUpdate.IsZero() {
		rc.mu.Lock()
		if rc.ocsp == nil || len(rc.ocsp) >= maxCachedAnswers {
			rc.ocsp = make(map[string]*ocsp.Response)
		}
		rc.ocsp[key] = resp
		rc.mu.Unlock()
	}
	return resp, nil
}

// get fetches url (a POST of body when contentType is set), reading at most
// limit bytes.
func (rc *RevocationChecker) get(url, contentType string, body []byte, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), revocationTimeout)
	defer cancel()
	method, rd := http.MethodGet, io.Reader(nil)
	if contentType != "" {
		method, rd = http.MethodPost, bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := rc.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", url, err)
	}
	if int64(len(b)) > limit {
		return nil, errors.New(url + ": answer larger than " + fmt.Sprint(limit) + " bytes")
	}
	return b, nil
}

// httpURLs keeps the http and https URLs of a list (distribution points
// may also name LDAP, which is not supported).
func httpURLs(urls []string) []string {
	var out []string
	for _, u := range urls {
		l := strings.ToLower(u)
		if strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
			out = append(out, u)
		}
	}
	return out
}

func hasUsage(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	for _, x := range c.ExtKeyUsage {
		if x == u {
			return true
		}
	}
	return false
}
