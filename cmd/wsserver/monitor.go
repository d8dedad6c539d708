package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsserver/wsserver"
)

// The command's monitor serves the connection list two ways, and neither
// costs anything per connection event beyond O(1) bookkeeping:
//
//   - GET /connections?offset=&limit= returns one page of the list by ID,
//     with the totals. The page is cut when asked for.
//   - The /events WebSocket (a second wsserver.Server, so that echo clients
//     never see it) sends each watcher the totals and the changes since the
//     last push (who came, who left), every pushEvery while someone
//     watches and something moved. Changes are recorded only while someone watches; with no
//     watcher the push loop sleeps.
//
// The mode's own connections stay pure: nothing but the mode's data is sent
// on them.

// pushEvery is how often watchers get an update.
const pushEvery = time.Second

// maxChanges bounds the connections listed as added or removed in one
// update; past it an update says how many more changed ("more"), and a
// watcher that shows the list reloads its page from /connections.
const maxChanges = 100

// slowestShown is how many of the longest outboxes an update lists.
const slowestShown = 5

// connInfo is one connection in /connections and in the updates.
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
	Queued      int64     `json:"queued"` // bytes waiting in its outbox
}

func (a *app) infoOf(c *wsserver.Connection) connInfo {
	m := c.Metrics()
	return connInfo{
		ID: c.ID(), Node: a.nodeID(), Remote: remoteOf(c), URI: c.RequestURI(), Since: c.ConnectedAt().UTC().Truncate(time.Second),
		MessagesIn: int64(m.MessagesIn), MessagesOut: int64(m.MessagesOut),
		BytesIn: int64(m.BytesIn), BytesOut: int64(m.BytesOut),
		Queued: queuedOf(c),
	}
}

// page is the JSON of GET /connections.
type page struct {
	Mode        string           `json:"mode"`
	Command     string           `json:"command,omitempty"`
	Version     string           `json:"version"`
	Count       int              `json:"count"` // connections open
	Offset      int              `json:"offset"`
	Limit       int              `json:"limit"`
	Connections []connInfo       `json:"connections"` // the page, by ID
	Totals      traffic          `json:"totals"`
	Cluster     *clusterSnapshot `json:"cluster,omitempty"` // with --cluster* (cluster.go)
}

// Page sizes of /connections.
const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

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

// pageParam reads a non-negative integer query parameter.
func pageParam(r *http.Request, name string, def, limit int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > limit {
		return 0, fmt.Errorf("%s=%q: want a whole number from 0 to %d", name, v, limit)
	}
	return n, nil
}

// connectionsPage returns the connections from offset (by ID), at most limit.
func (a *app) connectionsPage(offset, limit int) page {
	list := a.connsByID()
	pg := page{
		Mode: a.opts.mode, Command: shellJoin(a.opts.command), Version: wsserver.Version,
		Count: len(list), Offset: offset, Limit: limit, Connections: []connInfo{},
		Totals: a.totals(), Cluster: a.clusterInfo(),
	}
	if offset < len(list) {
		for _, x := range list[offset:min(len(list), offset+limit)] {
			pg.Connections = append(pg.Connections, a.infoOf(x.c))
		}
	}
	return pg
}

// byID is a list of connections with their IDs, to sort by ID without
// reading every Connection again at each comparison (scattered in memory,
// that made the sort most of a page's cost).
type byID []idConn

type idConn struct {
	id int
	c  *wsserver.Connection
}

// connsByID returns the open connections by ID: O(n log n), for a page when
// asked.
func (a *app) connsByID() byID {
	l := a.borrowConns()
	defer a.giveBack(l)
	ids := make(byID, len(l.conns))
	for i, c := range l.conns {
		ids[i] = idConn{c.ID(), c}
	}
	slices.SortFunc(ids, func(x, y idConn) int { return cmp.Compare(x.id, y.id) })
	return ids
}

// serveConnections answers GET /connections?offset=&limit=.
func (a *app) serveConnections(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	offset, err := pageParam(r, "offset", 0, math.MaxInt32)
	if err == nil {
		var limit int
		limit, err = pageParam(r, "limit", defaultPageLimit, maxPageLimit)
		if err == nil {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			b, _ := json.Marshal(a.connectionsPage(offset, limit)) // the types always marshal
			w.Write(append(b, '\n'))
			return
		}
	}
	http.Error(w, "400 bad request: "+err.Error(), http.StatusBadRequest)
}

// update is one message of /events.
type update struct {
	// Reset is true in a watcher's first update and after it missed one:
	// Added then lists the first page of connections by ID rather than the
	// changes, and Closes all the close codes so far.
	Reset       bool      `json:"reset"`
	Time        time.Time `json:"time"`
	Mode        string    `json:"mode"`
	Command     string    `json:"command,omitempty"`
	Version     string    `json:"version"`
	Connections int       `json:"connections"` // open now
	Accepted    int64     `json:"accepted"`    // connections opened since start
	Totals      traffic   `json:"totals"`
	// Added and Removed are the connections that came and went since the
	// last update (at most maxChanges of each); More counts those left out.
	Added   []connInfo `json:"added"`
	Removed []int      `json:"removed"`
	More    int        `json:"more"`
	// Closes counts connections closed since start by close code.
	Closes  map[string]int64 `json:"closes"`
	Slowest []connInfo       `json:"slowest"` // the longest outboxes, longest first
	// Cluster is the cluster's nodes and connections, with --cluster*.
	Cluster *clusterSnapshot `json:"cluster,omitempty"`
}

// feed is the /events side of the monitor.
type feed struct {
	watchers atomic.Int32  // /events connections open
	wake     chan struct{} // capacity 1: a watcher needs an update now
	accepted atomic.Int64

	mu      sync.Mutex
	added   []*wsserver.Connection // since the last push, while someone watches
	removed []int
	more    int
	closes  map[int]int64    // by close code, since start
	fresh   map[int]bool     // watchers that need a reset update
	missed  map[int]bool     // watchers whose last update did not fit their queue
	ids     map[int]struct{} // open watchers
	// The push loop's own: what the last update said.
	lastTotals traffic
	lastCount  int

	hook atomic.Pointer[func(kind string)] // tests: called after the push loop sends
}

func newFeed() *feed {
	return &feed{
		wake:   make(chan struct{}, 1),
		closes: make(map[int]int64),
		fresh:  make(map[int]bool),
		missed: make(map[int]bool),
		ids:    make(map[int]struct{}),
	}
}

// connected records a new connection of the mode: O(1).
func (f *feed) connected(c *wsserver.Connection) {
	f.accepted.Add(1)
	if f.watchers.Load() == 0 {
		return
	}
	f.mu.Lock()
	if len(f.added) < maxChanges {
		f.added = append(f.added, c)
	} else {
		f.more++
	}
	f.mu.Unlock()
}

// disconnected records a closed connection of the mode: O(1).
func (f *feed) disconnected(id, code int) {
	f.mu.Lock()
	f.closes[code]++
	if f.watchers.Load() > 0 {
		if len(f.removed) < maxChanges {
			f.removed = append(f.removed, id)
		} else {
			f.more++
		}
	}
	f.mu.Unlock()
}

func (f *feed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// wireMonitor sets the event handlers of the /events server.
func (a *app) wireMonitor() {
	f := a.feed
	ev := &a.mon.Events
	ev.OnConnected = func(e *wsserver.ConnectedEvent) {
		f.mu.Lock()
		f.ids[e.ConnectionID] = struct{}{}
		f.fresh[e.ConnectionID] = true
		f.mu.Unlock()
		f.watchers.Add(1)
		f.signal()
		a.log.Debug("watcher open", "endpoint", "/events", "watcher", e.ConnectionID)
	}
	ev.OnDisconnected = func(e *wsserver.DisconnectedEvent) {
		f.mu.Lock()
		delete(f.ids, e.ConnectionID)
		delete(f.fresh, e.ConnectionID)
		delete(f.missed, e.ConnectionID)
		f.mu.Unlock()
		f.watchers.Add(-1)
		a.log.Debug("watcher close", "endpoint", "/events", "watcher", e.ConnectionID, "code", e.StatusCode)
	}
	ev.OnReadyToSend = func(e *wsserver.ReadyToSendEvent) {
		f.mu.Lock()
		again := f.missed[e.ConnectionID]
		if again {
			delete(f.missed, e.ConnectionID)
			f.fresh[e.ConnectionID] = true
		}
		f.mu.Unlock()
		if again {
			f.signal()
		}
	}
	// Watchers only listen; what they send is ignored.
}

// pushLoop sends the watchers their updates until ctx is done. With no
// watcher it waits for one and does nothing else.
func (a *app) pushLoop(ctx context.Context) {
	f := a.feed
	tick := time.NewTicker(pushEvery)
	defer tick.Stop()
	for {
		if f.watchers.Load() == 0 {
			tick.Stop()
			f.mu.Lock()
			f.added, f.removed, f.more = nil, nil, 0
			f.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
			}
			tick.Reset(pushEvery)
		} else {
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
			case <-tick.C:
				a.pushChanges()
			}
		}
		a.pushResets()
	}
}

// base returns an update with the totals and the slowest outboxes: O(n),
// done once per push for every watcher.
func (a *app) base() update {
	u := update{
		Time: time.Now().UTC(), Mode: a.opts.mode, Command: shellJoin(a.opts.command),
		Version: wsserver.Version, Accepted: a.feed.accepted.Load(),
		Added: []connInfo{}, Removed: []int{},
	}
	u.Totals = a.totals()
	u.Cluster = a.clusterInfo()
	u.Slowest = []connInfo{}
	if a.backlogged.Load() == 0 {
		// No outbox holds anything: no walk of the connections.
		u.Connections = a.srv.ConnectionCount()
		return u
	}
	list := a.borrowConns()
	defer a.giveBack(list)
	u.Connections = len(list.conns)
	type queue struct {
		c *wsserver.Connection
		n int64
	}
	var slow []queue // longest first
	for _, c := range list.conns {
		n := queuedOf(c)
		if n == 0 || len(slow) == slowestShown && n <= slow[len(slow)-1].n {
			continue
		}
		if len(slow) == slowestShown {
			slow = slow[:slowestShown-1]
		}
		i, _ := slices.BinarySearchFunc(slow, n, func(q queue, n int64) int { return cmp.Compare(n, q.n) })
		slow = slices.Insert(slow, i, queue{c, n})
	}
	u.Slowest = make([]connInfo, len(slow))
	for i, q := range slow {
		u.Slowest[i] = a.infoOf(q.c)
		u.Slowest[i].Queued = q.n
	}
	return u
}

// closesJSON copies the close counts. f.mu is held.
func (f *feed) closesJSON() map[string]int64 {
	m := make(map[string]int64, len(f.closes))
	for code, n := range f.closes {
		m[strconv.Itoa(code)] = n
	}
	return m
}

// pushChanges sends every watcher not waiting for a reset the totals and
// the changes since the last push.
func (a *app) pushChanges() {
	f := a.feed
	u := a.base()
	f.mu.Lock()
	added, removed, more := f.added, f.removed, f.more
	f.added, f.removed, f.more = nil, nil, 0
	u.Closes = f.closesJSON()
	var ids []int
	for id := range f.ids {
		if !f.fresh[id] && !f.missed[id] {
			ids = append(ids, id)
		}
	}
	f.mu.Unlock()
	// Nothing moved: no update (the page's clock does not need one).
	same := len(added) == 0 && len(removed) == 0 && more == 0 && u.Totals == f.lastTotals && u.Connections == f.lastCount
	f.lastTotals, f.lastCount = u.Totals, u.Connections
	if same && len(u.Slowest) == 0 {
		return
	}
	for _, c := range added {
		u.Added = append(u.Added, a.infoOf(c))
	}
	u.Removed = append(u.Removed, removed...)
	u.More = more
	a.sendUpdate(ids, u, "changes")
}

// pushResets sends the watchers that need one a reset update: the totals
// and the first page of connections.
func (a *app) pushResets() {
	f := a.feed
	f.mu.Lock()
	var ids []int
	for id := range f.fresh {
		ids = append(ids, id)
	}
	clear(f.fresh)
	f.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	u := a.base()
	u.Reset = true
	list := a.connsByID()
	for _, x := range list[:min(len(list), defaultPageLimit)] {
		u.Added = append(u.Added, a.infoOf(x.c))
	}
	f.mu.Lock()
	u.Closes = f.closesJSON()
	f.mu.Unlock()
	a.sendUpdate(ids, u, "reset")
}

// sendUpdate sends u to the watchers ids. A watcher whose queue cannot take it
// gets a reset update when its queue drains (ReadyToSend).
func (a *app) sendUpdate(ids []int, u update, kind string) {
	if len(ids) == 0 {
		return
	}
	b, _ := json.Marshal(u) // the types always marshal
	for _, id := range ids {
		err := a.mon.SendText(id, string(b))
		if errors.Is(err, wsserver.ErrWouldBlock) {
			a.feed.mu.Lock()
			if _, open := a.feed.ids[id]; open {
				a.feed.missed[id] = true
			}
			a.feed.mu.Unlock()
		}
	}
	if h := a.feed.hook.Load(); h != nil {
		(*h)(kind)
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
	prev, then := a.totals(), time.Now()
	wasIdle := false
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			cur := a.totals()
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
					"msgs_deferred", cur.Deferred-prev.Deferred,
				)
			}
			prev, then, wasIdle = cur, now, idle
		}
	}
}
