package main

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Issue 9: the command refuses WebSockets from web pages of other origins
// in every mode, by default (cross-site WebSocket hijacking: in exec mode a
// page could otherwise run the program); --origin allows more origins,
// --any-origin all of them with a warning in the log.

// dialOrigin opens a WebSocket to url sending the given Origin header and
// returns the handshake's HTTP status (101 when it opened).
func dialOrigin(t *testing.T, url, origin string) int {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	c, resp, err := d.Dial(url, hdr)
	if c != nil {
		c.Close()
	}
	if resp == nil {
		t.Fatalf("dial %s with Origin %q: %v", url, origin, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestOrigin_SameOriginByDefault(t *testing.T) {
	static := t.TempDir()
	modes := []struct {
		name string
		args []string
	}{
		{"echo", nil},
		{"broadcast", []string{"broadcast"}},
		{"exec", []string{"exec", "cat"}},
		{"static", []string{"--static", static}},
		{"event loop", []string{"--config", "EventLoop=True"}},
		{"tls", []string{"--tls-self-signed"}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ta := startApp(t, m.args...)
			// The page's own origin, as a browser on the built-in page sends it.
			self := ta.base
			wsRoot := strings.TrimSuffix(ta.ws, "/ws")
			for _, path := range []string{"/ws", "/", "/events"} {
				url := wsRoot + path
				for _, evil := range []string{"http://evil.example", "https://evil.example", "null", strings.Replace(self, "127.0.0.1", "localhost", 1)} {
					if st := dialOrigin(t, url, evil); st != http.StatusForbidden {
						t.Errorf("%s with Origin %s: status %d, want 403", path, evil, st)
					}
				}
				if st := dialOrigin(t, url, self); st != http.StatusSwitchingProtocols {
					t.Errorf("%s from the page's own origin %s: status %d, want 101", path, self, st)
				}
				if st := dialOrigin(t, url, ""); st != http.StatusSwitchingProtocols {
					t.Errorf("%s without Origin (not a browser): status %d, want 101", path, st)
				}
			}
			if !strings.Contains(ta.logs.String(), `Origin \"http://evil.example\" is not allowed`) {
				t.Errorf("the refusals are not logged:\n%s", ta.logs.String())
			}
		})
	}
}

func TestOrigin_Flags(t *testing.T) {
	t.Run("--origin", func(t *testing.T) {
		ta := startApp(t, "--origin", "https://app.example.test", "--origin", "*.trusted.test:*", "exec", "cat")
		for origin, want := range map[string]int{
			"https://app.example.test":   101,
			"http://app.example.test":    403,
			"http://a.trusted.test:3000": 101,
			"http://evil.example":        403,
			ta.base:                      101,
		} {
			if st := dialOrigin(t, ta.ws, origin); st != want {
				t.Errorf("Origin %s: status %d, want %d", origin, st, want)
			}
		}
		if strings.Contains(ta.logs.String(), "AllowedOrigins=*") {
			t.Errorf("a warning about any origin without --any-origin:\n%s", ta.logs.String())
		}
	})
	t.Run("--any-origin", func(t *testing.T) {
		ta := startApp(t, "--any-origin", "exec", "cat")
		if st := dialOrigin(t, ta.ws, "http://evil.example"); st != 101 {
			t.Errorf("--any-origin: status %d, want 101", st)
		}
		if st := dialOrigin(t, strings.TrimSuffix(ta.ws, "/ws")+"/events", "http://evil.example"); st != 101 {
			t.Errorf("--any-origin, /events: status %d, want 101", st)
		}
		if logs := ta.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "AllowedOrigins=*") || !strings.Contains(logs, "run cat") {
			t.Errorf("no warning about any origin running the program:\n%s", logs)
		}
	})
	t.Run("--config", func(t *testing.T) {
		ta := startApp(t, "--config", "AllowedOrigins=*")
		if st := dialOrigin(t, ta.ws, "http://evil.example"); st != 101 {
			t.Errorf("--config AllowedOrigins=*: status %d, want 101", st)
		}
		if !strings.Contains(ta.logs.String(), "AllowedOrigins=*") {
			t.Errorf("no warning for --config AllowedOrigins=*:\n%s", ta.logs.String())
		}
	})
	for _, bad := range [][]string{
		{"--any-origin", "--origin", "https://a.test"},
		{"--origin", "https://a.test/path"},
		{"--origin", "["},
	} {
		o, err := parseArgs(bad)
		if err == nil {
			level := new(slog.LevelVar)
			_, err = newApp(o, newLogger(&syncBuffer{}, level, logText), level)
		}
		if err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
