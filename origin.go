package wsserver

import (
	"net"
	"net/url"
	"path"
	"strings"
)

// The Origin policy (AllowedOrigins) guards against cross-site WebSocket
// hijacking: a browser lets any page open a WebSocket to any server, with
// the user's cookies and from the user's network (a server on 127.0.0.1
// included), and tells the server which page it is in the Origin header
// (RFC 6455 section 10.2, RFC 6454). The reference leaves the check to the
// application's WebSocketOpenRequest handler; wsserver checks before that
// event, in one place for every transport (listener, event loop, TLS and
// ServeHTTP), and by default refuses a page from another origin.

// SameOrigin is the AllowedOrigins entry that allows pages served from the
// origin the request was sent to: the Origin header's host and port equal
// the Host header's. It is the default.
const SameOrigin = "same-origin"

// AnyOrigin is the AllowedOrigins value that allows every origin, as the
// reference does: any web page the user visits may then drive the server.
const AnyOrigin = "*"

// defaultAllowedOrigins is the default of AllowedOrigins.
const defaultAllowedOrigins = SameOrigin

// originPolicy is a parsed AllowedOrigins value. It is never changed once
// made, so settings copies share it.
type originPolicy struct {
	text       string // the value, normalized: entries joined by ", "
	any        bool   // "*": every origin
	sameOrigin bool   // "same-origin"
	patterns   []originPattern
}

// originPattern is one pattern entry: host patterns match the origin's
// host[:port]; patterns with a scheme ("https://*.example.com") match
// scheme://host[:port].
type originPattern struct {
	pattern    string // lower case, path.Match syntax
	withScheme bool
}

// parseOriginPolicy parses AllowedOrigins: a comma-separated list of
// "same-origin", "*", and patterns. A pattern is a host ("example.com",
// "localhost:8080"), optionally with a scheme ("https://app.example.com"),
// with path.Match wildcards: "*" for any run of characters (not a "/"), "?"
// for one, [a-z] for a class. A pattern without a port matches only an
// origin without one, e.g. "localhost:*" allows every port of localhost.
func parseOriginPolicy(v string) (*originPolicy, error) {
	p := &originPolicy{}
	var entries []string
	for e := range strings.SplitSeq(v, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		switch {
		case e == AnyOrigin:
			p.any = true
		case e == SameOrigin:
			p.sameOrigin = true
		default:
			pat, err := parseOriginPattern(e)
			if err != nil {
				return nil, err
			}
			p.patterns = append(p.patterns, pat)
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, newError(ErrInvalidValue, "AllowedOrigins is empty: use %s (the default), %s (every origin), or origin patterns such as https://app.example.com", SameOrigin, AnyOrigin)
	}
	p.text = strings.Join(entries, ", ")
	return p, nil
}

// mustOriginPolicy parses a policy known to be valid.
func mustOriginPolicy(v string) *originPolicy {
	p, err := parseOriginPolicy(v)
	if err != nil {
		panic(err)
	}
	return p
}

// parseOriginPattern checks one pattern entry (already lower case).
func parseOriginPattern(e string) (originPattern, error) {
	hostPart, withScheme := e, false
	if scheme, rest, ok := strings.Cut(e, "://"); ok {
		if scheme == "" || strings.ContainsAny(scheme, "/?#") {
			return originPattern{}, newError(ErrInvalidValue, "AllowedOrigins entry %q: the scheme before :// is missing or malformed", e)
		}
		// An origin has no path: tolerate the single "/" people paste.
		rest = strings.TrimSuffix(rest, "/")
		hostPart, withScheme = rest, true
		e = scheme + "://" + rest
	}
	if hostPart == "" {
		return originPattern{}, newError(ErrInvalidValue, "AllowedOrigins entry %q names no host", e)
	}
	if strings.ContainsAny(hostPart, "/#@ \t") {
		return originPattern{}, newError(ErrInvalidValue, "AllowedOrigins entry %q: an origin is scheme://host[:port], without path or user", e)
	}
	pattern := e
	// An IPv6 address is written in brackets, which path.Match would read
	// as a character class: "[::1]:*" means the address.
	if strings.HasPrefix(hostPart, "[") {
		if end := strings.IndexByte(hostPart, ']'); end > 0 && strings.Contains(hostPart[:end], ":") {
			literal := `\[` + hostPart[1:end] + `\]` + hostPart[end+1:]
			pattern = strings.TrimSuffix(pattern, hostPart) + literal
		}
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return originPattern{}, newError(ErrInvalidValue, "AllowedOrigins entry %q is not a valid pattern: %v", e, err)
	}
	return originPattern{pattern: pattern, withScheme: withScheme}, nil
}

// allows reports whether a request with this Origin header, sent with this
// Host header over TLS or not, may open a WebSocket. A request without an
// Origin header is allowed: browsers always send one, and any other client
// could send whatever it likes.
func (p *originPolicy) allows(origin, host string, isTLS bool) bool {
	if origin == "" || p.any {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil {
		return false // "null" (sandboxed pages, file: URLs) and garbage
	}
	scheme, hostport := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if p.sameOrigin && sameOrigin(scheme, u.Hostname(), u.Port(), host, isTLS) {
		return true
	}
	for _, pat := range p.patterns {
		target := hostport
		if pat.withScheme {
			target = scheme + "://" + hostport
		}
		if ok, _ := path.Match(pat.pattern, target); ok {
			return true
		}
	}
	return false
}

// defaultPort is the port an origin of this scheme has when it names none.
func defaultPort(scheme string) string {
	switch scheme {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

// sameOrigin reports whether an origin (scheme, host, port as in the Origin
// header) is the one the request was sent to: same host name, and same
// port, taking each scheme's default port into account. A Host header
// without a port names the default port of the scheme the client used: 443
// on TLS; on a plaintext connection either 80 or, behind a proxy that ends
// TLS, 443, so both are accepted there. Over TLS the page must be https.
func sameOrigin(scheme, oHost, oPort, hostHeader string, isTLS bool) bool {
	def := defaultPort(scheme)
	if def == "" {
		return false // not a web origin (chrome-extension:, file:...)
	}
	if isTLS && (scheme == "http" || scheme == "ws") {
		return false
	}
	if oPort == "" {
		oPort = def
	}
	hHost, hPort := hostHeader, ""
	if h, p, err := net.SplitHostPort(hostHeader); err == nil {
		hHost, hPort = h, p
	} else {
		hHost = strings.TrimSuffix(strings.TrimPrefix(hHost, "["), "]")
	}
	if hHost == "" || !strings.EqualFold(strings.TrimSuffix(hHost, "."), strings.TrimSuffix(oHost, ".")) {
		return false
	}
	switch {
	case hPort != "":
		return hPort == oPort
	case isTLS:
		return oPort == "443"
	default:
		return oPort == def
	}
}

// checkOrigin applies AllowedOrigins to a request before
// WebSocketOpenRequest. When it refuses, it logs why and returns the 403
// response to write.
func (s *Server) checkOrigin(c *Connection, origin, host string) ([]byte, bool) {
	s.mu.Lock()
	p := s.cfg.allowedOrigins
	s.mu.Unlock()
	if p.allows(origin, host, c.tlsConn() != nil) {
		return nil, true
	}
	s.logf(c.id, 1, "Refused WebSocket request from %s: Origin %q is not allowed for Host %q (AllowedOrigins=%s)", c.remoteHost, origin, host, p.text)
	return s.reject(403, "cross-origin WebSocket request refused: the server does not allow pages from "+origin+" (AllowedOrigins)", ""), false
}
