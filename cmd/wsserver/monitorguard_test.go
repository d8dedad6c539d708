package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Issue 9: the monitor endpoints reveal every client's address and request
// URI; --monitor turns them off or limits them to this machine (the
// default), --monitor-token protects them with a token.

// getStatus requests url with extra headers and returns the status.
func getStatus(t *testing.T, url string, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	return resp.StatusCode
}

// wsStatus opens a WebSocket to url and returns the handshake's status.
func wsStatus(t *testing.T, url string, hdr http.Header) int {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(url, hdr)
	if c != nil {
		c.Close()
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestMonitor_LocalByDefault(t *testing.T) {
	ta := startApp(t)
	events := strings.TrimSuffix(ta.ws, "/ws") + "/events"
	if st := getStatus(t, ta.base+"/connections", nil); st != 200 {
		t.Errorf("/connections from this machine: %d, want 200", st)
	}
	if st := wsStatus(t, events, nil); st != 101 {
		t.Errorf("/events from this machine: %d, want 101", st)
	}
	port := ta.base[strings.LastIndexByte(ta.base, ':')+1:]
	for name, hdr := range map[string]map[string]string{
		"through a proxy":            {"X-Forwarded-For": "192.0.2.7"},
		"through a Forwarded proxy":  {"Forwarded": "for=192.0.2.7"},
		"another name (rebinding)":   {"Host": "evil.example:" + port},
		"a name resolving elsewhere": {"Host": "127.0.0.1.evil.example"},
	} {
		if st := getStatus(t, ta.base+"/connections", hdr); st != 403 {
			t.Errorf("/connections %s: %d, want 403", name, st)
		}
	}
	if st := wsStatus(t, events, http.Header{"X-Forwarded-For": {"192.0.2.7"}}); st != 403 {
		t.Errorf("/events through a proxy: %d, want 403", st)
	}
	if st := getStatus(t, ta.base+"/connections", map[string]string{"Host": "localhost:" + port}); st != 200 {
		t.Errorf("/connections as localhost: %d, want 200", st)
	}
}

// TestMonitor_Modes checks the policy on requests from other machines,
// which a test on 127.0.0.1 cannot make for real.
func TestMonitor_Modes(t *testing.T) {
	cases := []struct {
		mode, token, remote, host, auth string
		want                            int
	}{
		{monitorLocal, "", "127.0.0.1:5000", "127.0.0.1:8080", "", 0},
		{monitorLocal, "", "[::1]:5000", "[::1]:8080", "", 0},
		{monitorLocal, "", "192.0.2.1:5000", "127.0.0.1:8080", "", 403},
		{monitorLocal, "", "192.0.2.1:5000", "192.0.2.2:8080", "", 403},
		{monitorOn, "", "192.0.2.1:5000", "192.0.2.2:8080", "", 0},
		{monitorOff, "", "127.0.0.1:5000", "127.0.0.1:8080", "", 404},
		{monitorOn, "s3cret", "192.0.2.1:5000", "example.com", "", 401},
		{monitorOn, "s3cret", "192.0.2.1:5000", "example.com", "Bearer s3cret", 0},
		{monitorOn, "s3cret", "192.0.2.1:5000", "example.com", "Bearer s3cre", 401},
		{monitorOn, "s3cret", "192.0.2.1:5000", "example.com", "Basic s3cret", 401},
		{monitorLocal, "s3cret", "127.0.0.1:5000", "localhost", "", 401},
		{monitorLocal, "s3cret", "192.0.2.1:5000", "example.com", "Bearer s3cret", 403},
	}
	for _, tc := range cases {
		m, err := newMonitorAccess(tc.mode, tc.token)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "http://"+tc.host+"/connections", nil)
		r.RemoteAddr, r.Host = tc.remote, tc.host
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if got, why := m.refuse(r); got != tc.want {
			t.Errorf("--monitor %s, token %q, from %s to %s, Authorization %q: %d (%s), want %d", tc.mode, tc.token, tc.remote, tc.host, tc.auth, got, why, tc.want)
		}
	}
	if _, err := newMonitorAccess("public", ""); err == nil {
		t.Error("--monitor public was accepted")
	}
}

func TestMonitor_Off(t *testing.T) {
	ta := startApp(t, "--monitor", "off")
	if st := getStatus(t, ta.base+"/connections", nil); st != 404 {
		t.Errorf("/connections: %d, want 404", st)
	}
	if st := wsStatus(t, strings.TrimSuffix(ta.ws, "/ws")+"/events", nil); st != 404 {
		t.Errorf("/events: %d, want 404", st)
	}
	// The rest works: the page and the mode's WebSocket.
	if st := getStatus(t, ta.base+"/", nil); st != 200 {
		t.Errorf("the page: %d, want 200", st)
	}
	c := dial(t, ta.ws)
	c.WriteMessage(websocket.TextMessage, []byte("still here"))
	if _, msg := read(t, c); string(msg) != "still here" {
		t.Errorf("echo %q", msg)
	}
}

func TestMonitor_Token(t *testing.T) {
	for _, fromEnv := range []bool{false, true} {
		args := []string{"--monitor", "on"}
		if fromEnv {
			t.Setenv(monitorTokenEnv, "s3cret")
		} else {
			args = append(args, "--monitor-token", "s3cret")
		}
		ta := startApp(t, args...)
		events := strings.TrimSuffix(ta.ws, "/ws") + "/events"
		if st := getStatus(t, ta.base+"/connections", nil); st != 401 {
			t.Errorf("/connections without the token: %d, want 401", st)
		}
		if st := getStatus(t, ta.base+"/connections", map[string]string{"Authorization": "Bearer s3cret"}); st != 200 {
			t.Errorf("/connections with the token: %d, want 200", st)
		}
		if st := getStatus(t, ta.base+"/connections?token=s3cret", nil); st != 200 {
			t.Errorf("/connections?token=: %d, want 200", st)
		}
		if st := wsStatus(t, events, nil); st != 401 {
			t.Errorf("/events without the token: %d, want 401", st)
		}
		if st := wsStatus(t, events+"?token=wrong", nil); st != 401 {
			t.Errorf("/events with a wrong token: %d, want 401", st)
		}
		if st := wsStatus(t, events+"?token=s3cret", nil); st != 101 {
			t.Errorf("/events?token=: %d, want 101", st)
		}
		if st := wsStatus(t, ta.ws, nil); st != 101 {
			t.Errorf("/ws needs no token: %d, want 101", st)
		}
	}
	level := new(slog.LevelVar)
	o, err := parseArgs([]string{"--monitor", "everyone"})
	if err == nil {
		_, err = newApp(o, newLogger(io.Discard, level, logText), level)
	}
	if err == nil {
		t.Error("--monitor everyone was accepted")
	}
}
