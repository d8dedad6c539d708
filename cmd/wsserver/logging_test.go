package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Issue 12: --log-format json writes one JSON object a line, and the
// records' data are attributes (conn, remote, uri, code), not sentences;
// /events connections are logged as "watcher", so their IDs never mix with
// the /ws connections' "conn".
func TestLogFormatJSON(t *testing.T) {
	ta := startApp(t, "--log-format", "json", "--log-level", "debug")
	ev := dial(t, strings.Replace(ta.ws, "/ws", "/events", 1))
	c := dial(t, ta.ws+"?x=1")
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4002, "done"), time.Now().Add(time.Second))
	readClose(t, c)
	ev.Close()
	eventually(t, "the close is logged", func() bool { return strings.Contains(ta.logs.String(), `"msg":"close"`) })
	eventually(t, "the watcher's close is logged", func() bool { return strings.Contains(ta.logs.String(), `"msg":"watcher close"`) })

	var open, closed map[string]any
	for _, line := range strings.Split(strings.TrimSpace(ta.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", line, err)
		}
		if rec["endpoint"] == "/events" && rec["conn"] != nil {
			t.Errorf("an /events record names a conn: %q", line)
		}
		switch rec["msg"] {
		case "open":
			open = rec
		case "close":
			closed = rec
		}
	}
	// The /events connection came first, on the same listener, and was
	// handed to the HTTP server: the ID it had there is skipped, not shared.
	if open == nil || open["conn"] != float64(2) || open["uri"] != "/ws?x=1" || !strings.HasPrefix(open["remote"].(string), "127.0.0.1:") {
		t.Errorf("open record: %v", open)
	}
	if closed == nil || closed["conn"] != float64(2) || closed["code"] != float64(4002) || closed["reason"] != "done" {
		t.Errorf("close record: %v", closed)
	}
}

func TestLogFormatFlag(t *testing.T) {
	if _, err := parseArgs([]string{"--log-format", "xml"}); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Fatalf("--log-format xml: %v", err)
	}
}

// Issue 12: /healthz answers 200 while the command serves, for load
// balancers.
func TestHealthz(t *testing.T) {
	ta := startApp(t)
	resp, err := http.Get(ta.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Status      string
		Connections int
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != 200 || h.Status != "ok" {
		t.Fatalf("/healthz: %d %+v %v", resp.StatusCode, h, err)
	}
	ta.stopping.Store(true) // what shutdown sets first
	resp2, err := http.Get(ta.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/healthz while stopping: %d", resp2.StatusCode)
	}
}
