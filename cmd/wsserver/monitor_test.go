package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func getPage(t *testing.T, url string) page {
	t.Helper()
	var pg page
	if err := json.Unmarshal([]byte(get(t, url)), &pg); err != nil {
		t.Fatal(err)
	}
	return pg
}

// Issue 12: /connections serves the list in pages by ID
// (?offset=&limit=), with the count and the totals.
func TestConnectionsPaged(t *testing.T) {
	ta := startApp(t)
	body := get(t, ta.base+"/")
	if !strings.Contains(body, "<title>wsserver</title>") || !strings.Contains(body, `"/events"`) {
		t.Fatalf("/ is not the built-in page: %.200s", body)
	}
	var conns []*websocket.Conn
	for i := range 5 {
		conns = append(conns, dial(t, fmt.Sprintf("%s?n=%d", ta.ws, i)))
	}
	conns[0].WriteMessage(websocket.TextMessage, []byte("xyz"))
	read(t, conns[0])
	eventually(t, "five connections are registered", func() bool { return ta.registered() == 5 })

	all := getPage(t, ta.base+"/connections")
	if all.Mode != "echo" || all.Count != 5 || len(all.Connections) != 5 || all.Limit != defaultPageLimit {
		t.Fatalf("/connections: %+v", all)
	}
	for i, c := range all.Connections {
		if want := fmt.Sprintf("/ws?n=%d", i); c.URI != want {
			t.Errorf("connection %d: uri %q, want %q (the list is by ID)", i, c.URI, want)
		}
	}
	if c := all.Connections[0]; c.MessagesIn != 1 || c.MessagesOut != 1 || c.BytesIn != 3 || c.BytesOut != 3 {
		t.Errorf("first connection's counters: %+v", c)
	}
	if all.Totals.MessagesIn != 1 || all.Totals.BytesOut != 3 {
		t.Errorf("totals: %+v", all.Totals)
	}

	pg := getPage(t, ta.base+"/connections?offset=1&limit=2")
	if pg.Count != 5 || len(pg.Connections) != 2 || pg.Connections[0].ID != all.Connections[1].ID || pg.Connections[1].ID != all.Connections[2].ID {
		t.Fatalf("offset=1&limit=2: %+v", pg)
	}
	if pg := getPage(t, ta.base+"/connections?offset=9"); len(pg.Connections) != 0 || pg.Count != 5 {
		t.Fatalf("offset past the end: %+v", pg)
	}
	// Closed connections leave the list; their traffic stays in the totals.
	conns[0].Close()
	eventually(t, "the closed connection leaves the list", func() bool { return ta.registered() == 4 })
	if pg := getPage(t, ta.base+"/connections"); pg.Count != 4 || pg.Totals.MessagesIn != 1 || pg.Totals.BytesIn != 3 {
		t.Fatalf("after a close: %+v", pg)
	}
	for _, q := range []string{"offset=-1", "limit=abc", "limit=1001"} {
		resp, err := http.Get(ta.base + "/connections?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("?%s: status %d, want 400", q, resp.StatusCode)
		}
	}
}

// readUpdate reads the next /events update.
func readUpdate(t *testing.T, c *websocket.Conn) update {
	t.Helper()
	var u update
	_, msg := read(t, c)
	if err := json.Unmarshal(msg, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// Issue 12: /events sends a watcher a reset update (the totals and the first
// page), then the totals and the changes (who came, who left), never the
// whole list again.
func TestEventsSendsChanges(t *testing.T) {
	ta := startApp(t)
	c1 := dial(t, ta.ws+"?who=first")
	eventually(t, "the first connection is registered", func() bool { return ta.registered() == 1 })

	ev := dial(t, strings.Replace(ta.ws, "/ws", "/events", 1))
	u := readUpdate(t, ev)
	if !u.Reset || u.Connections != 1 || len(u.Added) != 1 || u.Added[0].URI != "/ws?who=first" || u.Mode != "echo" {
		t.Fatalf("first update: %+v", u)
	}
	c2 := dial(t, ta.ws+"?who=second")
	c1.WriteMessage(websocket.TextMessage, []byte("hello"))
	read(t, c1)
	c1.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
	readClose(t, c1)
	var added, removed bool
	for i := 0; !(added && removed && u.Totals.MessagesIn == 1 && u.Closes["4001"] == 1); i++ {
		if i == 20 {
			t.Fatalf("no update shows the changes after 20: last %+v", u)
		}
		u = readUpdate(t, ev)
		if u.Reset {
			t.Fatalf("a second reset update: %+v", u)
		}
		for _, a := range u.Added {
			if a.URI == "/ws?who=second" {
				added = true
			}
			if a.URI == "/ws?who=first" {
				t.Fatalf("the first connection is listed again: %+v", u)
			}
		}
		for _, id := range u.Removed {
			if id == 1 {
				removed = true
			}
		}
	}
	if u.Connections != 1 || u.Accepted != 2 {
		t.Fatalf("update: %+v", u)
	}
	_ = c2
}

// Issue 12: with nobody watching, connection events record nothing for
// /events, and the push loop does not run.
func TestEventsNoWorkWithoutWatchers(t *testing.T) {
	ta := startApp(t)
	pushes := make(chan string, 100)
	hook := func(kind string) {
		select {
		case pushes <- kind:
		default:
		}
	}
	ta.feed.hook.Store(&hook)
	for range 3 {
		dial(t, ta.ws).Close()
	}
	eventually(t, "three connections came and went", func() bool {
		return ta.feed.accepted.Load() == 3 && ta.registered() == 0
	})
	ta.feed.mu.Lock()
	recorded := len(ta.feed.added) + len(ta.feed.removed) + ta.feed.more
	ta.feed.mu.Unlock()
	if recorded != 0 {
		t.Fatalf("%d changes recorded with nobody watching", recorded)
	}
	select {
	case kind := <-pushes:
		t.Fatalf("an update (%s) was built with nobody watching", kind)
	case <-time.After(pushEvery + pushEvery/2):
	}
	// A watcher wakes the loop.
	dial(t, strings.Replace(ta.ws, "/ws", "/events", 1))
	select {
	case kind := <-pushes:
		if kind != "reset" {
			t.Fatalf("first push to a watcher: %s", kind)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no update for a new watcher")
	}
}
