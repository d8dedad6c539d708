package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// The monitor endpoints (/connections, /events) reveal every client's
// address and port, request URI (query strings included: tokens people put
// there too), connection times and traffic counts, and in exec mode the
// program's command line. guardMonitor decides who may read them.

// Monitor access modes (--monitor).
const (
	monitorLocal = "local" // clients on this machine only (the default)
	monitorOn    = "on"    // every client that reaches the port
	monitorOff   = "off"   // not served
)

// monitorTokenEnv holds the token when --monitor-token is not given, to
// keep it out of the process list.
const monitorTokenEnv = "WSSERVER_MONITOR_TOKEN"

// monitorAccess is the parsed --monitor and --monitor-token.
type monitorAccess struct {
	mode  string   // monitorLocal, monitorOn or monitorOff
	token [32]byte // SHA-256 of the token; compared in constant time
	need  bool     // a token is required
}

func newMonitorAccess(mode, token string) (monitorAccess, error) {
	switch mode {
	case monitorLocal, monitorOn, monitorOff:
	default:
		return monitorAccess{}, usagef("--monitor %q: want local (this machine only), on (everyone) or off", mode)
	}
	m := monitorAccess{mode: mode}
	if token != "" {
		m.token, m.need = sha256.Sum256([]byte(token)), true
	}
	return m, nil
}

// guardMonitor wraps a monitor endpoint with the --monitor policy.
func (a *app) guardMonitor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status, why := a.monitor.refuse(r); status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="wsserver monitor"`)
			}
			a.log.Info("monitor request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "status", status, "why", why)
			http.Error(w, fmt.Sprintf("%d %s: %s", status, http.StatusText(status), why), status)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// refuse returns the HTTP status and reason that refuse r, or 0.
func (m monitorAccess) refuse(r *http.Request) (int, string) {
	switch m.mode {
	case monitorOff:
		return http.StatusNotFound, "the monitor endpoints are off (--monitor off)"
	case monitorLocal:
		if !fromThisMachine(r) {
			return http.StatusForbidden, "the monitor endpoints answer clients on the server's machine only (--monitor local)"
		}
	}
	if m.need {
		given := r.URL.Query().Get("token") // browsers cannot set headers on a WebSocket
		if auth := r.Header.Get("Authorization"); auth != "" {
			scheme, t, _ := strings.Cut(auth, " ")
			if strings.EqualFold(scheme, "Bearer") {
				given = strings.TrimSpace(t)
			}
		}
		sum := sha256.Sum256([]byte(given))
		if given == "" || subtle.ConstantTimeCompare(sum[:], m.token[:]) != 1 {
			return http.StatusUnauthorized, "the monitor endpoints need the --monitor-token (Authorization: Bearer TOKEN, or ?token=TOKEN)"
		}
	}
	return 0, ""
}

// fromThisMachine reports whether r comes from a loopback address and was
// addressed to a loopback name. A request a proxy forwarded (it says so in
// its headers) does not count: the proxy would be on this machine, its
// clients not. Nor does one whose Host is another name: a page of another
// site whose name was made to resolve to 127.0.0.1 (DNS rebinding) would
// otherwise read the endpoints as its own.
func fromThisMachine(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return false
	}
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return isLoopbackHost(r.Host)
}

// isLoopbackHost reports whether a Host header names this machine:
// localhost (or a name under .localhost, RFC 6761) or a loopback address.
func isLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
