package interop

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestBrowser loads the command's built-in page in headless Chromium: it
// connects, sends a message, sees the echo and the connection list (its own
// row and a Go client's), and closes. The screenshot goes to
// artifacts/browser.png.
//
// TestBrowser/wss does the same with the command serving a certificate
// signed by a test CA: the page comes over https:// and its WebSockets go
// over wss:// (screenshot artifacts/browser-wss.png). Chromium does not know
// the CA; it is told to accept the server's key alone, by its SPKI hash
// (--ignore-certificate-errors-spki-list), rather than to ignore every
// certificate error.
func TestBrowser(t *testing.T) {
	needChromium(t)
	needNode(t, "playwright-core")
	cases := []struct {
		name, screenshot string
		tls              bool
	}{
		{"ws", "browser.png", false},
		{"wss", "browser-wss.png", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, p := startServerOver(t, tc.tls)
			httpScheme, wsScheme := "http:", "ws://"
			var pin []string
			if p != nil {
				httpScheme, wsScheme = "https:", "wss://"
				pin = []string{p.spkiPin}
			}

			// Another client, so the list shows more than the page itself.
			dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second, TLSClientConfig: p.tlsConfig()}
			other, resp, err := dialer.Dial(srv.ws+"?client=go", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			t.Cleanup(func() { other.Close() })

			artifacts, err := filepath.Abs(filepath.Join("..", "artifacts"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(artifacts, 0o755); err != nil {
				t.Fatal(err)
			}
			shot := filepath.Join(artifacts, tc.screenshot)
			os.Remove(shot)
			args := append([]string{"browser.mjs", srv.page, shot, t.TempDir(), chromiumPath}, pin...)
			run := runScript(t, "node", "node", args...)
			var r struct {
				Protocol, Mode, Status, ClosedStatus string
				Sent, Received, PageErrors, Sockets  []string
				Rows                                 []struct {
					ID    int
					You   bool
					Cells []string
				}
			}
			run.next(t, &r)
			run.wait(t)

			const text = "hello from chromium ✓"
			if r.Protocol != httpScheme {
				t.Errorf("the page was loaded over %q, want %q", r.Protocol, httpScheme)
			}
			if len(r.Sockets) == 0 {
				t.Errorf("the page opened no WebSocket")
			}
			for _, u := range r.Sockets {
				if !strings.HasPrefix(u, wsScheme) {
					t.Errorf("the page opened %s, want %s", u, wsScheme)
				}
			}
			if r.Mode != "echo mode" {
				t.Errorf("the page shows mode %q", r.Mode)
			}
			if len(r.Sent) != 1 || r.Sent[0] != text || len(r.Received) != 1 || r.Received[0] != text {
				t.Errorf("sent %q, received %q; want the echo of %q", r.Sent, r.Received, text)
			}
			var mine, others int
			for _, row := range r.Rows {
				if row.You {
					mine++
				} else {
					others++
				}
			}
			if mine != 1 || others != 1 {
				t.Errorf("connection list rows %+v: want the page's own and the Go client's", r.Rows)
			}
			if !strings.Contains(r.Status, "Connected as connection #") {
				t.Errorf("status %q", r.Status)
			}
			if !strings.Contains(r.ClosedStatus, "1000") {
				t.Errorf("status after closing %q", r.ClosedStatus)
			}
			if len(r.PageErrors) > 0 {
				t.Errorf("errors in the page: %q", r.PageErrors)
			}
			if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
				t.Errorf("no screenshot at %s: %v", shot, err)
			}

			// The page's connection is gone from the server's list: only the Go client remains.
			deadline := time.Now().Add(10 * time.Second)
			for {
				n, uri := connections(t, srv.page, p.tlsConfig())
				if n == 1 && uri == "/ws?client=go" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the page closed, /connections lists %d connections (first %q)", n, uri)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// connections returns the number of connections /connections lists and the
// first one's URI. conf is the TLS configuration for an https:// page.
func connections(t *testing.T, page string, conf *tls.Config) (int, string) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: conf}
	defer tr.CloseIdleConnections()
	c := http.Client{Timeout: 10 * time.Second, Transport: tr}
	resp, err := c.Get(strings.TrimSuffix(page, "/") + "/connections")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap struct {
		Connections []struct{ URI string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Connections) == 0 {
		return 0, ""
	}
	return len(snap.Connections), snap.Connections[0].URI
}
