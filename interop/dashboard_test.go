package interop

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDashboard drives the command's built-in page in headless Chromium as
// issue 12 asks: a developer tool (JSON sent and shown pretty-printed;
// binary sent as hex and as base64; sizes and round-trip times; a bad JSON
// refused; the log filtered, copied and cleared; the URL's query and the
// subprotocols edited and used on reconnecting) and a dashboard (a chart
// that moves when traffic flows, closes by code), with screenshots at 1400 and 400 px wide kept
// in artifacts/ (dashboard-1400.png, dashboard-400.png) and no horizontal
// scrolling at 400 px. In broadcast mode the page asks for the
// wsserver.sender subprotocol and names the sender of each message.
func TestDashboard(t *testing.T) {
	needChromium(t)
	needNode(t, "playwright-core")
	echo := startServer(t)
	bcast := startServer(t, "broadcast")
	artifacts, err := filepath.Abs(filepath.Join("..", "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"dashboard-1400.png", "dashboard-400.png"} {
		os.Remove(filepath.Join(artifacts, f))
	}
	run := runScript(t, "node", "node", "dashboard.mjs", echo.page, bcast.page, artifacts, t.TempDir(), chromiumPath)
	type entry struct {
		Text, Meta, Kind, From string
		Size                   int
		Hidden                 bool
	}
	var r struct {
		URL, SendError, Before, After, Protocol string
		SentAfterBad, Overflow400, AliceID      int
		Chart                                   map[string]string
		Received, Sent, BobGot                  []entry
		Filtered, Tiles, PageErrors             []string
		Copied, Edited, YouTitle, SubInfo       string
		AfterClear                              int
		Closes                                  [][]string
		BobPlain                                entry
	}
	run.next(t, &r)
	run.wait(t)

	if !strings.HasPrefix(r.URL, strings.TrimSuffix(echo.ws, "/ws")) || !strings.Contains(r.URL, "/ws?page=") {
		t.Errorf("the URL field holds %q", r.URL)
	}
	if len(r.Received) < 3 || len(r.Sent) < 3 {
		t.Fatalf("sent %d, received %d entries", len(r.Sent), len(r.Received))
	}
	wantJSON := "{\n  \"b\": [\n    1,\n    2\n  ],\n  \"a\": \"x\"\n}"
	if r.Sent[0].Text != wantJSON || r.Received[0].Text != wantJSON || r.Received[0].Kind != "text" || r.Received[0].Size != len(`{"b":[1,2],"a":"x"}`) {
		t.Errorf("JSON: sent %+v, received %+v", r.Sent[0], r.Received[0])
	}
	if r.Received[1].Kind != "binary" || r.Received[1].Size != 3 || !strings.Contains(r.Received[1].Text, "00 01 ff") {
		t.Errorf("hex send echoed as %+v", r.Received[1])
	}
	if r.Received[2].Kind != "binary" || r.Received[2].Size != 3 || !strings.Contains(r.Received[2].Text, "00 01 02") {
		t.Errorf("base64 send echoed as %+v", r.Received[2])
	}
	for _, e := range r.Received[:3] {
		if !strings.HasSuffix(e.Meta, " ms") {
			t.Errorf("no round-trip time on %+v", e)
		}
	}
	if !strings.Contains(r.SendError, "JSON") || r.SentAfterBad != 3 {
		t.Errorf("bad JSON: error %q, %d entries sent", r.SendError, r.SentAfterBad)
	}
	if r.Before == r.After || r.Chart["max"] == "" || r.Chart["max"] == "0" {
		t.Errorf("the messages/s chart did not move with traffic: %v", r.Chart)
	}
	if len(r.Filtered) != 2 || !strings.Contains(r.Filtered[0], "burst 7") {
		t.Errorf("filter \"burst 7\" shows %q, want the sent and the received \"burst 7\"", r.Filtered)
	}
	if lines := strings.Split(r.Copied, "\n"); len(lines) != 2 || !strings.Contains(lines[0], "burst 7") || !strings.Contains(lines[1], "burst 7") {
		t.Errorf("Copy with the filter \"burst 7\" copied %q", r.Copied)
	}
	if r.AfterClear != 0 {
		t.Errorf("%d log entries after Clear", r.AfterClear)
	}
	if !strings.HasSuffix(r.Edited, "&room=blue") || !strings.Contains(r.YouTitle, "room=blue") {
		t.Errorf("reconnected to %q; the server lists the page's connection as %q", r.Edited, r.YouTitle)
	}
	if !strings.Contains(r.SubInfo, "with subprotocol chat.v1") {
		t.Errorf("the reconnection with subprotocols \"chat.v1, chat.v2\" logged %q", r.SubInfo)
	}
	closed1000 := false
	for _, row := range r.Closes {
		closed1000 = closed1000 || len(row) == 2 && row[0] == "1000" && row[1] != "0"
	}
	if !closed1000 {
		t.Errorf("closes by code after the page disconnected: %q", r.Closes)
	}
	if r.Overflow400 > 0 {
		t.Errorf("at 400 px the page scrolls sideways by %d px", r.Overflow400)
	}
	for _, f := range []string{"dashboard-1400.png", "dashboard-400.png"} {
		if fi, err := os.Stat(filepath.Join(artifacts, f)); err != nil || fi.Size() == 0 {
			t.Errorf("no screenshot %s: %v", f, err)
		}
	}
	if r.Protocol != "wsserver.sender" || len(r.BobGot) != 1 || r.BobGot[0].Text != "#"+strconv.Itoa(r.AliceID)+": hello from alice" || r.BobGot[0].From != "#"+strconv.Itoa(r.AliceID)+": " {
		t.Errorf("broadcast: subprotocol %q, bob got %+v (alice is #%d)", r.Protocol, r.BobGot, r.AliceID)
	}
	if r.BobPlain.Text != "plain to bob" || r.BobPlain.From != "" {
		t.Errorf("without the subprotocol bob got %+v, want the message as it came", r.BobPlain)
	}
	if len(r.PageErrors) > 0 {
		t.Errorf("errors in the page: %q", r.PageErrors)
	}
}
