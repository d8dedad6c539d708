package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsserver/wsserver"
	"github.com/wsserver/wsserver/internal/bufpool"
)

// Config configures a Node. The zero value is usable.
type Config struct {
	// NodeID names the node cluster-wide: 1 to 64 ASCII letters, digits,
	// '-' or '_'. Default: "n" and 8 random hex digits.
	NodeID string
	// Namespace prefixes every channel, so that several clusters can share
	// one broker: dot-separated tokens of letters, digits, '-' and '_'.
	// Default "wsserver".
	Namespace string
	// HeartbeatInterval is how often the node tells the others it is alive
	// and how many connections it has. Default 1 s.
	HeartbeatInterval time.Duration
	// NodeTimeout is how long a node may stay silent before the others drop
	// it (NodeLeft with reason "timeout"). Default 5 heartbeats.
	NodeTimeout time.Duration
	// Events are the node's event handlers; set them before Join.
	Events Events
}

// Events are a Node's event handlers. They run on the node's goroutines
// (the engine's delivery, the heartbeat timer), never two of one kind at a
// time for one source; a panic in one is recovered and reported to OnError.
type Events struct {
	// OnNodeJoined fires when a node is first heard from.
	OnNodeJoined func(NodeInfo)
	// OnNodeLeft fires when a node leaves: reason "left" when it closed,
	// "timeout" when it stopped heartbeating for NodeTimeout.
	OnNodeLeft func(node, reason string)
	// OnError fires for what no method returns: the broker connection lost
	// and regained, messages known lost, malformed messages. Its error is an
	// *Error.
	OnError func(error)
}

// Error is a cluster failure reported through Events.OnError.
type Error struct {
	Op   string // "engine", "lost", "receive", "event"
	Lost int64  // messages known lost, when Op is "lost" or "engine"
	Err  error
}

func (e *Error) Error() string {
	if e.Lost > 0 {
		return fmt.Sprintf("cluster %s: %d messages lost: %v", e.Op, e.Lost, e.Err)
	}
	return fmt.Sprintf("cluster %s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// NodeInfo is what the cluster knows of a node from its heartbeats.
type NodeInfo struct {
	ID          string
	Connections int       // its open connections at its last heartbeat
	LastSeen    time.Time // when its last heartbeat arrived (now for this node)
	Self        bool      // the node asking
}

// ConnID names a connection cluster-wide: the node it is on and its
// ConnectionID there. Its text form is "node:id".
type ConnID struct {
	Node string
	ID   int
}

// String returns "node:id".
func (c ConnID) String() string { return c.Node + ":" + strconv.Itoa(c.ID) }

// ParseConnID parses the "node:id" form of a ConnID.
func ParseConnID(s string) (ConnID, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return ConnID{}, fmt.Errorf("cluster: connection ID %q is not node:id", s)
	}
	id, err := strconv.Atoi(s[i+1:])
	if err != nil || id < 1 || validNodeID(s[:i]) != nil {
		return ConnID{}, fmt.Errorf("cluster: connection ID %q is not node:id", s)
	}
	return ConnID{Node: s[:i], ID: id}, nil
}

// Stats are a Node's counters since Join.
type Stats struct {
	Published     uint64 // messages handed to the engine
	PublishErrors uint64 // publishes the engine refused: those messages are lost
	Received      uint64 // messages from other nodes
	Lost          uint64 // messages from other nodes known lost: sequence gaps and engine drops
	LocalDropped  uint64 // deliveries a local connection could not take (its queue full, or closing)
	Malformed     uint64 // messages that could not be decoded
	Disconnects   uint64 // broker connection losses
	Reconnects    uint64 // and recoveries
}

// Node joins a Server to a cluster through an Engine. Its methods are safe
// for concurrent use.
type Node struct {
	srv   *wsserver.Server
	eng   Engine
	cfg   Config
	id    string
	inc   uint64 // incarnation: random per Join
	ns    string
	chAll string
	chMe  string

	unhook func()

	subMu    sync.Mutex      // serializes the engine's Subscribe and Unsubscribe
	engSubs  map[string]bool // channels subscribed at the engine (subMu)
	mu       sync.RWMutex    // guards the topic tables
	topics   map[string]*topic
	byChan   map[string]*topic
	connSubs map[int][]*topic

	seqMu  sync.Mutex
	pubs   map[string]*pubState // by topic name (or channel for node channels)
	recv   map[string]*recvState
	closed atomic.Bool // publishes fail from now on
	ending atomic.Bool // Close has begun

	peerMu sync.Mutex
	peers  map[string]*peer

	listMu  sync.Mutex
	lists   map[uint64]*listWait
	nextReq uint64

	stats struct {
		published, publishErrors, received, lost, localDropped, malformed, disconnects, reconnects atomic.Uint64
	}
	pending chan string // channels whose last local subscriber went away
	stop    chan struct{}
	wg      sync.WaitGroup
}

type topic struct {
	name    string
	channel string
	conns   []*wsserver.Connection // copy on write
}

type pubState struct {
	channel string
	seq     uint64
}

type recvState struct {
	senders map[string]*senderSeq
}

type senderSeq struct{ inc, seq uint64 }

type peer struct {
	info NodeInfo
	inc  uint64
}

type listWait struct {
	ids     []ConnID
	waiting map[string]bool
	done    chan struct{}
}

// maxTracked bounds the per-topic sequence numbers a node keeps for what it
// publishes; topics beyond it are sent untracked (no loss counting).
const maxTracked = 1 << 16

// Join makes s a node of the cluster that eng reaches (nil: a single node
// with the in-memory engine, which carries nothing: s behaves as it does
// alone). It opens eng, subscribes to the node's channels and starts
// heartbeating.
func Join(s *wsserver.Server, eng Engine, cfg Config) (*Node, error) {
	if s == nil {
		return nil, errors.New("cluster: Join needs a Server")
	}
	if eng == nil {
		eng = NewMemory()
	}
	if cfg.NodeID == "" {
		var b [4]byte
		rand.Read(b[:])
		cfg.NodeID = "n" + hex.EncodeToString(b[:])
	}
	if err := validNodeID(cfg.NodeID); err != nil {
		return nil, err
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "wsserver"
	}
	for _, tok := range strings.Split(cfg.Namespace, ".") {
		if !safeToken(tok) {
			return nil, fmt.Errorf("cluster: Namespace %q is not dot-separated tokens of letters, digits, '-' and '_'", cfg.Namespace)
		}
	}
	if cfg.HeartbeatInterval < 0 || cfg.NodeTimeout < 0 {
		return nil, errors.New("cluster: HeartbeatInterval and NodeTimeout must not be negative")
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.NodeTimeout == 0 {
		cfg.NodeTimeout = 5 * cfg.HeartbeatInterval
	}
	if cfg.NodeTimeout <= cfg.HeartbeatInterval {
		return nil, fmt.Errorf("cluster: NodeTimeout %v must be longer than HeartbeatInterval %v", cfg.NodeTimeout, cfg.HeartbeatInterval)
	}
	var b [8]byte
	rand.Read(b[:])
	n := &Node{
		srv: s, eng: eng, cfg: cfg, id: cfg.NodeID, inc: binary.BigEndian.Uint64(b[:]) | 1,
		ns:       cfg.Namespace,
		engSubs:  make(map[string]bool),
		topics:   make(map[string]*topic),
		byChan:   make(map[string]*topic),
		connSubs: make(map[int][]*topic),
		pubs:     make(map[string]*pubState),
		recv:     make(map[string]*recvState),
		peers:    make(map[string]*peer),
		lists:    make(map[uint64]*listWait),
		pending:  make(chan string, 1024),
		stop:     make(chan struct{}),
	}
	n.chAll = n.ns + ".all"
	n.chMe = n.ns + ".n." + n.id
	if err := eng.Open(n.deliver, n.report); err != nil {
		return nil, fmt.Errorf("cluster: opening the engine: %w", err)
	}
	for _, ch := range []string{n.chAll, n.chMe} {
		if err := eng.Subscribe(ch); err != nil {
			eng.Close()
			return nil, fmt.Errorf("cluster: subscribing to %s: %w", ch, err)
		}
		n.engSubs[ch] = true
	}
	n.unhook = s.AddCloseHook(n.connClosed)
	n.heartbeat()
	n.wg.Add(1)
	go n.run()
	return n, nil
}

func validNodeID(id string) error {
	if len(id) < 1 || len(id) > 64 || !safeToken(id) {
		return fmt.Errorf("cluster: node ID %q is not 1 to 64 letters, digits, '-' or '_'", id)
	}
	return nil
}

func safeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// topicChannel returns the channel of a topic: readable when the name is one
// safe token, base64url otherwise.
func (n *Node) topicChannel(name string) string {
	if safeToken(name) {
		return n.ns + ".t." + name
	}
	return n.ns + ".x." + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// ID returns the node's ID.
func (n *Node) ID() string { return n.id }

// Server returns the node's Server.
func (n *Node) Server() *wsserver.Server { return n.srv }

// ConnID returns the cluster-wide ID of this node's connection id.
func (n *Node) ConnID(id int) ConnID { return ConnID{Node: n.id, ID: id} }

// maxTopic is the longest topic name, in bytes.
const maxTopic = 1024

func checkTopic(name string) error {
	if name == "" || len(name) > maxTopic {
		return fmt.Errorf("cluster: topic name must be 1 to %d bytes, got %d", maxTopic, len(name))
	}
	return nil
}

// Subscribe subscribes this node's connection id to topic: Publish on any
// node then reaches it. The node subscribes at the engine once per topic,
// for its first subscriber; when Subscribe returns the subscription is in
// place at this node's broker (other brokers of a cluster learn of it
// shortly after). A connection's subscriptions end when it closes.
func (n *Node) Subscribe(id int, topicName string) error {
	if err := checkTopic(topicName); err != nil {
		return err
	}
	c, err := n.srv.Connection(id)
	if err != nil {
		return err
	}
	if n.closed.Load() {
		return errNodeClosed
	}
	n.subMu.Lock()
	defer n.subMu.Unlock()
	n.mu.Lock()
	t := n.topics[topicName]
	if t == nil {
		t = &topic{name: topicName, channel: n.topicChannel(topicName)}
		n.topics[topicName] = t
		n.byChan[t.channel] = t
	}
	for _, x := range n.connSubs[id] {
		if x == t {
			n.mu.Unlock()
			return nil
		}
	}
	t.conns = append(t.conns[:len(t.conns):len(t.conns)], c)
	n.connSubs[id] = append(n.connSubs[id], t)
	n.mu.Unlock()
	if !c.Connected() { // closed meanwhile: its close hook may have run already
		n.remove(id, t)
	}
	return n.reconcileLocked(t.channel)
}

var errNodeClosed = errors.New("cluster: the node is closed")

// Unsubscribe ends connection id's subscription to topic.
func (n *Node) Unsubscribe(id int, topicName string) error {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	n.mu.RLock()
	t := n.topics[topicName]
	n.mu.RUnlock()
	if t == nil {
		return nil
	}
	n.remove(id, t)
	return n.reconcileLocked(t.channel)
}

// Topics returns the topics connection id is subscribed to.
func (n *Node) Topics(id int) []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var names []string
	for _, t := range n.connSubs[id] {
		names = append(names, t.name)
	}
	return names
}

// remove takes connection id out of t; it reports whether t lost its last
// subscriber (and so left the tables).
func (n *Node) remove(id int, t *topic) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	subs := n.connSubs[id]
	for i, x := range subs {
		if x == t {
			subs = append(subs[:i:i], subs[i+1:]...)
			break
		}
	}
	if len(subs) == 0 {
		delete(n.connSubs, id)
	} else {
		n.connSubs[id] = subs
	}
	for i, c := range t.conns {
		if c.ID() == id {
			conns := make([]*wsserver.Connection, 0, len(t.conns)-1)
			conns = append(conns, t.conns[:i]...)
			t.conns = append(conns, t.conns[i+1:]...)
			break
		}
	}
	if len(t.conns) == 0 && n.topics[t.name] == t {
		delete(n.topics, t.name)
		delete(n.byChan, t.channel)
		return true
	}
	return false
}

// connClosed is the Server's close hook: the connection's subscriptions end
// at once; the engine unsubscribes on the node's goroutine.
func (n *Node) connClosed(id int) {
	n.mu.RLock()
	subs := append([]*topic(nil), n.connSubs[id]...)
	n.mu.RUnlock()
	for _, t := range subs {
		if n.remove(id, t) {
			select {
			case n.pending <- t.channel:
			default: // full: the heartbeat's sweep catches it
			}
		}
	}
}

// reconcileLocked makes the engine's subscription to channel match the
// topic table. subMu is held.
func (n *Node) reconcileLocked(channel string) error {
	n.mu.RLock()
	want := n.byChan[channel] != nil
	n.mu.RUnlock()
	have := n.engSubs[channel]
	switch {
	case want && !have:
		if err := n.eng.Subscribe(channel); err != nil {
			return fmt.Errorf("cluster: subscribing to %s: %w", channel, err)
		}
		n.engSubs[channel] = true
	case !want && have:
		delete(n.engSubs, channel)
		n.seqMu.Lock()
		delete(n.recv, channel) // a later subscription starts afresh
		n.seqMu.Unlock()
		if err := n.eng.Unsubscribe(channel); err != nil {
			return fmt.Errorf("cluster: unsubscribing from %s: %w", channel, err)
		}
	}
	return nil
}

// sweep unsubscribes the engine from topics nobody here wants any more.
func (n *Node) sweep() {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	for ch := range n.engSubs {
		if ch == n.chAll || ch == n.chMe {
			continue
		}
		if err := n.reconcileLocked(ch); err != nil {
			n.fail("engine", 0, err)
		}
	}
}

// Broadcast sends data as one message of format (FormatText or
// FormatBinary) to every open connection of every node: framed (and
// compressed) once on each node, as Server.Broadcast does, and published
// once to the engine. Local connections get it at once, even while the
// broker is unreachable. It returns how many local connections took it and
// the error of the publish, if any.
func (n *Node) Broadcast(format wsserver.DataFormat, data []byte) (int, error) {
	if err := checkFormat(format, data); err != nil {
		return 0, err
	}
	// The publish goes first (it never waits for the broker), so that the
	// other nodes frame and send while this one does.
	err := n.publish(n.chAll, n.chAll, kindBroadcast, format, nil, data)
	sent, _ := n.srv.Broadcast(format, data)
	if d := n.srv.ConnectionCount() - sent; d > 0 {
		n.stats.localDropped.Add(uint64(d))
	}
	return sent, err
}

// Forward is Broadcast to the other nodes' connections only, for an
// application that has already delivered the message to its own
// connections as it wished (a chat room that skips the sender, say).
func (n *Node) Forward(format wsserver.DataFormat, data []byte) error {
	if err := checkFormat(format, data); err != nil {
		return err
	}
	return n.publish(n.chAll, n.chAll, kindBroadcast, format, nil, data)
}

// Publish sends data as one message of format to every subscriber of topic
// on every node. Nodes without subscribers do not receive it; each node
// with some receives it once and frames it once for all of them. Local
// subscribers get it at once, even while the broker is unreachable. It
// returns how many local subscribers took it and the error of the publish.
func (n *Node) Publish(topicName string, format wsserver.DataFormat, data []byte) (int, error) {
	if err := checkTopic(topicName); err != nil {
		return 0, err
	}
	if err := checkFormat(format, data); err != nil {
		return 0, err
	}
	n.mu.RLock()
	var conns []*wsserver.Connection
	if t := n.topics[topicName]; t != nil {
		conns = t.conns
	}
	n.mu.RUnlock()
	err := n.publish(topicName, "", kindTopic, format, nil, data) // first, as in Broadcast
	return n.deliverLocal(format, data, conns), err
}

// Send sends data as one message of format to connection to, on whichever
// node it is: on this node it is queued at once (never blocking; a full
// queue fails with ErrWouldBlock); on another it is one publish to that
// node, which queues it the same way, at most once and without an answer.
// A node that is not known alive fails with ErrInvalidConnectionID.
func (n *Node) Send(to ConnID, format wsserver.DataFormat, data []byte) error {
	if err := checkFormat(format, data); err != nil {
		return err
	}
	if to.Node == n.id {
		c, err := n.srv.Connection(to.ID)
		if err != nil {
			return err
		}
		_, err = n.srv.BroadcastTo(format, data, []*wsserver.Connection{c})
		return err
	}
	if err := n.checkPeer(to); err != nil {
		return err
	}
	ch := n.ns + ".n." + to.Node
	return n.publish(ch, ch, kindSend, format, []uint64{uint64(to.ID)}, data)
}

// Disconnect closes connection to, on whichever node it is, with code and
// reason (code 0: the DisconnectStatus settings of its Server).
func (n *Node) Disconnect(to ConnID, code int, reason string) error {
	if len(reason) > 123 {
		return fmt.Errorf("cluster: a close reason is at most 123 bytes, got %d", len(reason))
	}
	if to.Node == n.id {
		if code == 0 {
			return n.srv.Disconnect(to.ID)
		}
		return n.srv.DisconnectWithCode(to.ID, code, reason)
	}
	if err := n.checkPeer(to); err != nil {
		return err
	}
	ch := n.ns + ".n." + to.Node
	return n.publish(ch, ch, kindClose, wsserver.FormatText, []uint64{uint64(to.ID), uint64(code)}, []byte(reason))
}

func (n *Node) checkPeer(to ConnID) error {
	n.peerMu.Lock()
	_, ok := n.peers[to.Node]
	n.peerMu.Unlock()
	if !ok || to.ID < 1 {
		return &wsserver.Error{Code: wsserver.ErrInvalidConnectionID.Code, Message: fmt.Sprintf("no live node %q has connection %d", to.Node, to.ID)}
	}
	return nil
}

func checkFormat(format wsserver.DataFormat, data []byte) error {
	switch format {
	case wsserver.FormatText, wsserver.FormatBinary:
		return nil
	}
	return &wsserver.Error{Code: wsserver.ErrInvalidValue.Code, Message: fmt.Sprintf("cluster messages are text or binary, not DataFormat %d", format)}
}

// deliverLocal queues a message for local connections, counting those that
// could not take it.
func (n *Node) deliverLocal(format wsserver.DataFormat, data []byte, conns []*wsserver.Connection) int {
	if len(conns) == 0 {
		return 0
	}
	sent, _ := n.srv.BroadcastTo(format, data, conns)
	if d := len(conns) - sent; d > 0 {
		n.stats.localDropped.Add(uint64(d))
	}
	return sent
}

// publish hands one message to the engine. key names the sequence counter
// (the topic, or the channel); channel is "" for a topic, whose channel is
// looked up with the counter.
func (n *Node) publish(key, channel string, k kind, format wsserver.DataFormat, fields []uint64, data []byte) error {
	if n.closed.Load() {
		return errNodeClosed
	}
	n.seqMu.Lock()
	p := n.pubs[key]
	if p == nil && len(n.pubs) < maxTracked {
		if channel == "" {
			channel = n.topicChannel(key)
		}
		p = &pubState{channel: channel}
		n.pubs[key] = p
	}
	var seq uint64
	if p != nil {
		p.seq++
		seq = p.seq
		channel = p.channel
	}
	n.seqMu.Unlock()
	if channel == "" {
		channel = n.topicChannel(key)
	}
	buf := bufpool.Get(64 + len(n.id) + len(data))
	buf = appendEnvelope(buf[:0], k, byte(format), n.id, n.inc, seq, fields, data)
	err := n.eng.Publish(channel, buf)
	bufpool.Put(buf)
	if err != nil {
		n.stats.publishErrors.Add(1)
		return fmt.Errorf("cluster: publish to %s: %w", channel, err)
	}
	n.stats.published.Add(1)
	return nil
}

// deliver is the engine's delivery function.
func (n *Node) deliver(channel string, payload []byte) {
	var e envelope
	if err := decodeEnvelope(payload, &e); err != nil {
		n.stats.malformed.Add(1)
		n.fail("receive", 0, fmt.Errorf("on %s: %w", channel, err))
		return
	}
	if string(e.sender) == n.id {
		return // our own, echoed by the broker: delivered locally already
	}
	n.stats.received.Add(1)
	if e.seq != 0 {
		n.checkSeq(channel, &e)
	}
	format := wsserver.DataFormat(e.format)
	switch e.kind {
	case kindBroadcast:
		if sent, _ := n.srv.Broadcast(format, e.payload); n.srv.ConnectionCount() > sent {
			n.stats.localDropped.Add(uint64(n.srv.ConnectionCount() - sent))
		}
	case kindTopic:
		n.mu.RLock()
		var conns []*wsserver.Connection
		if t := n.byChan[channel]; t != nil {
			conns = t.conns
		}
		n.mu.RUnlock()
		n.deliverLocal(format, e.payload, conns)
	case kindSend:
		c, err := n.srv.Connection(int(e.fields[0]))
		if err != nil {
			n.stats.localDropped.Add(1)
			return
		}
		n.deliverLocal(format, e.payload, []*wsserver.Connection{c})
	case kindClose:
		id, code := int(e.fields[0]), int(e.fields[1])
		if code == 0 {
			n.srv.Disconnect(id)
		} else {
			n.srv.DisconnectWithCode(id, code, string(e.payload))
		}
	case kindHeartbeat:
		n.heard(&e)
	case kindLeave:
		n.left(string(e.sender), "left")
	case kindListReq:
		n.answerList(string(e.sender), e.fields[0])
	case kindListReply:
		n.gotList(&e)
	}
}

// checkSeq counts the messages of a sender on a channel that never arrived.
func (n *Node) checkSeq(channel string, e *envelope) {
	n.seqMu.Lock()
	r := n.recv[channel]
	if r == nil {
		r = &recvState{senders: make(map[string]*senderSeq)}
		n.recv[channel] = r
	}
	var lost uint64
	cur := r.senders[string(e.sender)] // no allocation for the lookup
	last := senderSeq{}
	if cur == nil {
		r.senders[string(e.sender)] = &senderSeq{e.incarnation, e.seq}
	} else {
		last = *cur
		if last.inc == e.incarnation && e.seq > last.seq+1 {
			lost = e.seq - last.seq - 1
		}
		if e.seq > last.seq || last.inc != e.incarnation {
			*cur = senderSeq{e.incarnation, e.seq}
		}
	}
	n.seqMu.Unlock()
	if lost > 0 {
		n.stats.lost.Add(lost)
		n.fail("lost", int64(lost), fmt.Errorf("from node %s on %s: sequence %d follows %d", e.sender, channel, e.seq, last.seq))
	}
}

// report is the engine's report function.
func (n *Node) report(r Report) {
	switch r.Kind {
	case Disconnected:
		n.stats.disconnects.Add(1)
	case Reconnected:
		n.stats.reconnects.Add(1)
	case Dropped:
		n.stats.lost.Add(uint64(r.Lost))
	}
	err := r.Err
	if err == nil {
		err = errors.New(r.Kind.String())
	} else {
		err = fmt.Errorf("%s: %w", r.Kind, err)
	}
	n.fail("engine", r.Lost, err)
}

func (n *Node) fail(op string, lost int64, err error) {
	if h := n.cfg.Events.OnError; h != nil {
		n.safely(func() { h(&Error{Op: op, Lost: lost, Err: err}) })
	}
}

// safely runs an event handler, reporting a panic to OnError.
func (n *Node) safely(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			if h := n.cfg.Events.OnError; h != nil {
				func() {
					defer func() { recover() }()
					h(&Error{Op: "event", Err: fmt.Errorf("handler panicked: %v", p)})
				}()
			}
		}
	}()
	fn()
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	return Stats{
		Published:     n.stats.published.Load(),
		PublishErrors: n.stats.publishErrors.Load(),
		Received:      n.stats.received.Load(),
		Lost:          n.stats.lost.Load(),
		LocalDropped:  n.stats.localDropped.Load(),
		Malformed:     n.stats.malformed.Load(),
		Disconnects:   n.stats.disconnects.Load(),
		Reconnects:    n.stats.reconnects.Load(),
	}
}

// run sends heartbeats, expires silent nodes and unsubscribes deserted
// topics, until Close.
func (n *Node) run() {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case ch := <-n.pending:
			n.subMu.Lock()
			if err := n.reconcileLocked(ch); err != nil {
				n.fail("engine", 0, err)
			}
			n.subMu.Unlock()
		case <-tick.C:
			n.heartbeat()
			n.expire()
			if len(n.pending) == 0 {
				n.sweep()
			}
		}
	}
}

func (n *Node) heartbeat() {
	ms := func(d time.Duration) uint64 { return uint64(d / time.Millisecond) }
	err := n.publish(n.chAll, n.chAll, kindHeartbeat, wsserver.FormatBinary,
		[]uint64{uint64(n.srv.ConnectionCount()), ms(n.cfg.HeartbeatInterval), ms(n.cfg.NodeTimeout)}, nil)
	if err != nil && !errors.Is(err, errNodeClosed) {
		n.fail("engine", 0, fmt.Errorf("heartbeat: %w", err))
	}
}

// heard records a heartbeat.
func (n *Node) heard(e *envelope) {
	n.peerMu.Lock()
	p := n.peers[string(e.sender)]
	isNew := p == nil
	if isNew {
		p = &peer{info: NodeInfo{ID: string(e.sender)}}
		n.peers[p.info.ID] = p
	}
	p.inc = e.incarnation
	p.info.Connections = int(e.fields[0])
	p.info.LastSeen = time.Now()
	info := p.info
	n.peerMu.Unlock()
	if isNew {
		n.heartbeat() // so that the newcomer learns of this node at once
		if h := n.cfg.Events.OnNodeJoined; h != nil {
			n.safely(func() { h(info) })
		}
	}
}

// left drops a node from presence.
func (n *Node) left(id, reason string) {
	n.peerMu.Lock()
	_, ok := n.peers[id]
	delete(n.peers, id)
	n.peerMu.Unlock()
	if !ok {
		return
	}
	n.listMu.Lock()
	for _, w := range n.lists {
		if w.waiting[id] {
			delete(w.waiting, id)
			if len(w.waiting) == 0 {
				close(w.done)
			}
		}
	}
	n.listMu.Unlock()
	if h := n.cfg.Events.OnNodeLeft; h != nil {
		n.safely(func() { h(id, reason) })
	}
}

// expire drops the nodes silent for longer than NodeTimeout.
func (n *Node) expire() {
	cutoff := time.Now().Add(-n.cfg.NodeTimeout)
	var gone []string
	n.peerMu.Lock()
	for id, p := range n.peers {
		if p.info.LastSeen.Before(cutoff) {
			gone = append(gone, id)
		}
	}
	n.peerMu.Unlock()
	for _, id := range gone {
		n.left(id, "timeout")
	}
}

// Nodes returns the live nodes, this one included, ordered by ID.
func (n *Node) Nodes() []NodeInfo {
	list := []NodeInfo{{ID: n.id, Connections: n.srv.ConnectionCount(), LastSeen: time.Now(), Self: true}}
	n.peerMu.Lock()
	for _, p := range n.peers {
		list = append(list, p.info)
	}
	n.peerMu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list
}

// ConnectionCount returns the open connections of the whole cluster: this
// node's now, the others' as of their last heartbeat.
func (n *Node) ConnectionCount() int {
	total := 0
	for _, x := range n.Nodes() {
		total += x.Connections
	}
	return total
}

// listChunk is how many IDs one list reply carries.
const listChunk = 4096

// Connections returns the IDs of every open connection of the cluster,
// asking each live node for its list. It waits until every node known alive
// has answered (or left), or ctx is done; then it returns what it has with
// ctx's error.
func (n *Node) Connections(ctx context.Context) ([]ConnID, error) {
	var ids []ConnID
	for _, c := range n.srv.Connections() {
		ids = append(ids, ConnID{Node: n.id, ID: c.ID()})
	}
	w := &listWait{waiting: make(map[string]bool), done: make(chan struct{})}
	n.peerMu.Lock()
	for id := range n.peers {
		w.waiting[id] = true
	}
	n.peerMu.Unlock()
	if len(w.waiting) == 0 {
		return ids, nil
	}
	n.listMu.Lock()
	n.nextReq++
	req := n.nextReq
	n.lists[req] = w
	n.listMu.Unlock()
	defer func() {
		n.listMu.Lock()
		delete(n.lists, req)
		n.listMu.Unlock()
	}()
	if err := n.publish(n.chAll, n.chAll, kindListReq, wsserver.FormatBinary, []uint64{req}, nil); err != nil {
		return ids, err
	}
	var err error
	select {
	case <-w.done:
	case <-ctx.Done():
		err = ctx.Err()
	case <-n.stop:
		err = errNodeClosed
	}
	n.listMu.Lock()
	ids = append(ids, w.ids...)
	n.listMu.Unlock()
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Node != ids[j].Node {
			return ids[i].Node < ids[j].Node
		}
		return ids[i].ID < ids[j].ID
	})
	return ids, err
}

// answerList sends this node's connection IDs to node to, in chunks.
func (n *Node) answerList(to string, req uint64) {
	conns := n.srv.Connections()
	ch := n.ns + ".n." + to
	for i := 0; ; i += listChunk {
		end := min(i+listChunk, len(conns))
		var b []byte
		for _, c := range conns[i:end] {
			b = binary.AppendUvarint(b, uint64(c.ID()))
		}
		last := uint64(0)
		if end == len(conns) {
			last = 1
		}
		if err := n.publish(ch, ch, kindListReply, wsserver.FormatBinary, []uint64{req, last}, b); err != nil {
			n.fail("engine", 0, fmt.Errorf("connection list for %s: %w", to, err))
			return
		}
		if last == 1 {
			return
		}
	}
}

// gotList takes one chunk of a node's connection list.
func (n *Node) gotList(e *envelope) {
	n.listMu.Lock()
	defer n.listMu.Unlock()
	w := n.lists[e.fields[0]]
	if w == nil || !w.waiting[string(e.sender)] {
		return
	}
	node := string(e.sender)
	for b := e.payload; len(b) > 0; {
		v, m := binary.Uvarint(b)
		if m <= 0 {
			n.stats.malformed.Add(1)
			break
		}
		w.ids = append(w.ids, ConnID{Node: node, ID: int(v)})
		b = b[m:]
	}
	if e.fields[1] == 1 {
		delete(w.waiting, node)
		if len(w.waiting) == 0 {
			close(w.done)
		}
	}
}

// Close leaves the cluster: the other nodes hear of it at once (NodeLeft
// "left"), the engine is closed, and the node's topics are forgotten. The
// Server goes on serving its own connections.
func (n *Node) Close() error {
	if !n.ending.CompareAndSwap(false, true) {
		return nil
	}
	err := n.publish(n.chAll, n.chAll, kindLeave, wsserver.FormatBinary, nil, nil)
	n.closed.Store(true)
	close(n.stop)
	n.wg.Wait()
	n.unhook()
	if cerr := n.eng.Close(); cerr != nil {
		return cerr
	}
	if errors.Is(err, errNodeClosed) {
		err = nil
	}
	return err
}
