package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wsserver/wsserver"
)

// The connection list is served two ways: GET /connections returns it as
// JSON, and the /events WebSocket (a second wsserver.Server, so that echo
// clients never see it) pushes it to every watcher when a connection comes
// or goes, and at most once a second while the counters move. The mode's
// own connections stay pure: nothing but the mode's data is sent on them.

// snapshot is the JSON of the connection list.
type snapshot struct {
	Mode        string           `json:"mode"`
	Command     string           `json:"command,omitempty"`
	Version     string           `json:"version"`
	Connections []connInfo       `json:"connections"`
	Totals      totals           `json:"totals"`
	Cluster     *clusterSnapshot `json:"cluster,omitempty"` // with --cluster* (cluster.go)
}

type connInfo struct {
	ID          int       `json:"id"`
	Node        string    `json:"node,omitempty"` // with --cluster*: this process's node ID
	Remote      string    `json:"remote"`
	URI         string    `json:"uri"`
	Since       time.Time `json:"since"`
	MessagesIn  int64     `json:"messagesIn"`
	MessagesOut int64     `json:"messagesOut"`
	BytesIn     int64     `json:"bytesIn"`
	BytesOut    int64     `json:"bytesOut"`
}

type totals struct {
	MessagesIn  int64 `json:"messagesIn"`
	MessagesOut int64 `json:"messagesOut"`
	BytesIn     int64 `json:"bytesIn"`
	BytesOut    int64 `json:"bytesOut"`
}

func (a *app) snapshot() snapshot {
	list := a.peers.all()
	snap := snapshot{
		Mode:        a.opts.mode,
		Command:     shellJoin(a.opts.command),
		Version:     wsserver.Version,
		Connections: make([]connInfo, len(list)),
		Totals: totals{
			MessagesIn:  a.total.msgsIn.Load(),
			MessagesOut: a.total.msgsOut.Load(),
			BytesIn:     a.total.bytesIn.Load(),
			BytesOut:    a.total.bytesOut.Load(),
		},
	}
	snap.Cluster = a.clusterInfo()
	for i, p := range list {
		snap.Connections[i] = connInfo{
			ID: p.id, Node: a.nodeID(), Remote: p.remote, URI: p.uri, Since: p.since.UTC().Truncate(time.Second),
			MessagesIn: p.msgsIn.Load(), MessagesOut: p.msgsOut.Load(),
			BytesIn: p.bytesIn.Load(), BytesOut: p.bytesOut.Load(),
		}
	}
	return snap
}

// shellJoin joins a command line for display, quoting the arguments a shell
// would split or expand.
func shellJoin(argv []string) string {
	quoted := make([]string, len(argv))
	for i, arg := range argv {
		if arg != "" && strings.IndexFunc(arg, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			quoted[i] = arg
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}

func (a *app) snapshotJSON() []byte {
	b, err := json.Marshal(a.snapshot())
	if err != nil {
		panic(err) // the types above always marshal
	}
	return b
}

// serveConnections answers GET /connections.
func (a *app) serveConnections(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(a.snapshotJSON(), '\n'))
}

// watchers are the /events connections.
type watchers struct {
	mu    sync.Mutex
	stale map[int]bool // by ConnectionID: the last snapshot could not be queued
	last  []byte       // the last snapshot pushed
}

// wireMonitor sets the event handlers of the /events server.
func (a *app) wireMonitor() {
	a.watch.stale = make(map[int]bool)
	ev := &a.mon.Events
	ev.OnConnected = func(e *wsserver.ConnectedEvent) {
		a.watch.mu.Lock()
		a.watch.stale[e.ConnectionID] = false
		a.watch.mu.Unlock()
		a.pushTo(e.ConnectionID, a.snapshotJSON())
	}
	ev.OnDisconnected = func(e *wsserver.DisconnectedEvent) {
		a.watch.mu.Lock()
		delete(a.watch.stale, e.ConnectionID)
		a.watch.mu.Unlock()
	}
	ev.OnReadyToSend = func(e *wsserver.ReadyToSendEvent) {
		a.watch.mu.Lock()
		stale := a.watch.stale[e.ConnectionID]
		a.watch.mu.Unlock()
		if stale {
			a.pushTo(e.ConnectionID, a.snapshotJSON())
		}
	}
	// Watchers only listen; what they send is ignored.
}

// pushTo sends a snapshot to one watcher. A watcher whose queue is full is
// marked stale and gets the newest snapshot on ReadyToSend instead: a
// snapshot replaces the ones before it, so skipping some loses nothing.
func (a *app) pushTo(id int, snap []byte) {
	err := a.mon.SendText(id, string(snap))
	a.watch.mu.Lock()
	defer a.watch.mu.Unlock()
	if _, ok := a.watch.stale[id]; ok {
		a.watch.stale[id] = errors.Is(err, wsserver.ErrWouldBlock)
	}
}

// pushLoop pushes the connection list to the watchers when it changes, until
// ctx is done.
func (a *app) pushLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.peers.moved:
		case <-tick.C:
		}
		snap := a.snapshotJSON()
		a.watch.mu.Lock()
		same := bytes.Equal(snap, a.watch.last)
		a.watch.last = snap
		ids := make([]int, 0, len(a.watch.stale))
		for id := range a.watch.stale {
			ids = append(ids, id)
		}
		a.watch.mu.Unlock()
		if same {
			continue
		}
		for _, id := range ids {
			a.pushTo(id, snap)
		}
	}
}

// statsLoop logs connections, messages/s and bytes/s every a.opts.statsEvery
// until ctx is done. An idle server logs once, not every time.
func (a *app) statsLoop(ctx context.Context) {
	if a.opts.statsEvery <= 0 {
		return
	}
	tick := time.NewTicker(a.opts.statsEvery)
	defer tick.Stop()
	prev, then := a.snapshot().Totals, time.Now()
	prevDeferred := a.total.deferred.Load()
	wasIdle := false
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			cur := a.snapshot().Totals
			deferred := a.total.deferred.Load()
			conns := a.srv.ConnectionCount()
			idle := conns == 0 && cur == prev
			if !(idle && wasIdle) {
				secs := now.Sub(then).Seconds()
				rate := func(a, b int64) float64 { return math.Round(float64(a-b)/secs*10) / 10 }
				a.log.Info("stats",
					"connections", conns,
					"msgs_in_per_s", rate(cur.MessagesIn, prev.MessagesIn),
					"msgs_out_per_s", rate(cur.MessagesOut, prev.MessagesOut),
					"bytes_in_per_s", rate(cur.BytesIn, prev.BytesIn),
					"bytes_out_per_s", rate(cur.BytesOut, prev.BytesOut),
					"msgs_deferred", deferred-prevDeferred,
				)
			}
			prev, then, prevDeferred, wasIdle = cur, now, deferred, idle
		}
	}
}
