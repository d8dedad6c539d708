package interop

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestBrowserCrossOrigin checks the defence against cross-site WebSocket
// hijacking (RFC 6455 section 10.2, issue 9) with a real browser: a page
// served from another origin (another port of 127.0.0.1, which is another
// origin by RFC 6454) opens a WebSocket to the command. The command refuses
// it in every mode by default (the browser sees the handshake fail: close
// code 1006, never open), and lets it in when that origin is named with
// --origin. The built-in page from the server's own origin keeps working
// (TestBrowser).
func TestBrowserCrossOrigin(t *testing.T) {
	needChromium(t)
	needNode(t, "playwright-core")

	// The hostile site: any page, from another origin.
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!doctype html><title>another site</title><p>another site</p>"))
	}))
	defer foreign.Close()
	foreignHost := strings.TrimPrefix(foreign.URL, "http://")
	if _, _, err := net.SplitHostPort(foreignHost); err != nil {
		t.Fatal(err)
	}

	static := t.TempDir()
	if err := os.WriteFile(static+"/index.html", []byte("<!doctype html><p>static</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		name string
		args []string
	}{
		{"echo", nil},
		{"broadcast", []string{"broadcast"}},
		{"exec", []string{"exec", "cat"}},
		{"static", []string{"--static", static}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Run("refused by default", func(t *testing.T) {
				srv := startServer(t, m.args...)
				r := crossOrigin(t, foreign.URL, srv.ws)
				if r.Opened || r.Code != 1006 {
					t.Errorf("a page from %s opened %s: opened=%v close code %d; want refused (never open, 1006)", r.Origin, srv.ws, r.Opened, r.Code)
				}
				if !strings.Contains(srv.stderr.String(), "403") && !strings.Contains(strings.ToLower(srv.stderr.String()), "origin") {
					t.Errorf("the command logged nothing about the refused origin:\n%s", srv.stderr.String())
				}
			})
			t.Run("allowed with --origin", func(t *testing.T) {
				args := append([]string{"--origin", foreignHost}, m.args...)
				srv := startServer(t, args...)
				r := crossOrigin(t, foreign.URL, srv.ws)
				if !r.Opened || r.Code != 1000 {
					t.Errorf("with --origin %s, a page from %s: opened=%v close code %d; want open and a clean close (1000)", foreignHost, r.Origin, r.Opened, r.Code)
				}
			})
		})
	}
}

type crossOriginResult struct {
	Origin string
	Opened bool
	Code   int
	Error  string
}

// crossOrigin has Chromium load page and open a WebSocket to ws from it.
func crossOrigin(t *testing.T, page, ws string) crossOriginResult {
	t.Helper()
	run := runScript(t, "node", "node", "crossorigin.mjs", page, ws, t.TempDir(), chromiumPath)
	var r crossOriginResult
	run.next(t, &r)
	run.wait(t)
	if r.Error != "" {
		t.Fatalf("browser: %s", r.Error)
	}
	return r
}
