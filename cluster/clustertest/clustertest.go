// Package clustertest is the cluster engines' shared test suite: three
// wsserver nodes joined by an engine, real WebSocket clients on each, and
// the cross-node behaviour of the cluster package (issue 13) checked the
// same way whatever carries the messages. Each engine's tests call Run with
// a Setup that makes the engines and, where it can, cuts and restores a
// node's broker.
package clustertest

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver"
	"github.com/wsserver/wsserver/cluster"
)

// Setup says how to make a cluster for the suite.
type Setup struct {
	// Engines returns n engines joined by one broker (or broker cluster).
	// It must clean up after itself with t.Cleanup.
	Engines func(t *testing.T, n int) []cluster.Engine
	// Cut makes node i lose its broker connection; Restore gives it back,
	// after which the engine must reconnect and resubscribe by itself.
	// Both nil: the broker-loss test is skipped.
	Cut, Restore func(t *testing.T, i int)
	// Kill makes node i fall silent for good, as a crashed process would
	// (no leave message); the others must drop it after NodeTimeout.
	Kill func(t *testing.T, i int)
}

// Wait is how long the suite waits for anything that should happen.
const Wait = 20 * time.Second

// Heartbeat and timeout of the suite's nodes.
const (
	Heartbeat   = 100 * time.Millisecond
	NodeTimeout = 1 * time.Second
)

// Node is one wsserver node of a test cluster.
type Node struct {
	Srv  *wsserver.Server
	Node *cluster.Node
	URL  string

	mu     sync.Mutex
	byName map[string]int // client name -> ConnectionID
	errs   []error
	left   []string
}

// ID returns the connection ID of the client called name.
func (n *Node) ID(name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byName[name]
}

// subscribe subscribes the clients called names on n to topic.
func (n *Node) subscribe(t *testing.T, topic string, names ...string) {
	t.Helper()
	for _, name := range names {
		if err := n.Node.Subscribe(n.ID(name), topic); err != nil {
			t.Fatal(err)
		}
	}
}

// Errors returns the errors the node reported so far.
func (n *Node) Errors() []error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]error(nil), n.errs...)
}

// Left returns the "node:reason" of each NodeLeft so far.
func (n *Node) Left() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.left...)
}

// Client is a WebSocket client of a node, reading in the background.
type Client struct {
	Name string
	ws   *websocket.Conn
	msgs chan string
	done chan struct{} // closed when the reader ends
}

// Start makes a node per engine.
func Start(t *testing.T, engines []cluster.Engine) []*Node {
	t.Helper()
	nodes := make([]*Node, len(engines))
	for i, eng := range engines {
		n := &Node{Srv: wsserver.New(), byName: make(map[string]int)}
		n.Srv.Events.OnConnected = func(e *wsserver.ConnectedEvent) {
			c, err := n.Srv.Connection(e.ConnectionID)
			if err != nil {
				return
			}
			_, q, _ := strings.Cut(c.RequestURI(), "?name=")
			n.mu.Lock()
			n.byName[q] = e.ConnectionID
			n.mu.Unlock()
		}
		if err := n.Srv.SetLocalHost("127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if err := n.Srv.StartListening(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Srv.Shutdown() })
		n.URL = "ws://127.0.0.1:" + strconv.Itoa(n.Srv.LocalPort()) + "/ws"
		node, err := cluster.Join(n.Srv, eng, cluster.Config{
			NodeID:            "node" + strconv.Itoa(i+1),
			HeartbeatInterval: Heartbeat,
			NodeTimeout:       NodeTimeout,
			Events: cluster.Events{
				OnError: func(err error) {
					n.mu.Lock()
					n.errs = append(n.errs, err)
					n.mu.Unlock()
				},
				OnNodeLeft: func(id, reason string) {
					n.mu.Lock()
					n.left = append(n.left, id+":"+reason)
					n.mu.Unlock()
				},
			},
		})
		if err != nil {
			t.Fatalf("node %d: Join: %v", i+1, err)
		}
		t.Cleanup(func() { node.Close() })
		n.Node = node
		nodes[i] = n
	}
	WaitFor(t, "every node to see every other", func() bool {
		for _, n := range nodes {
			if len(n.Node.Nodes()) != len(nodes) {
				return false
			}
		}
		return true
	})
	return nodes
}

// Dial connects a client called name to node n and waits until the node has
// it.
func Dial(t *testing.T, n *Node, name string) *Client {
	t.Helper()
	return dial(t, n, name, false)
}

// dial is Dial, with permessage-deflate when compress is set.
func dial(t *testing.T, n *Node, name string, compress bool) *Client {
	t.Helper()
	d := websocket.Dialer{EnableCompression: compress, HandshakeTimeout: Wait}
	ws, _, err := d.Dial(n.URL+"?name="+name, http.Header{})
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	c := &Client{Name: name, ws: ws, msgs: make(chan string, 4096), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				close(c.msgs)
				return
			}
			c.msgs <- string(b)
		}
	}()
	t.Cleanup(func() {
		ws.Close()
		<-c.done
	})
	WaitFor(t, name+" registered", func() bool { return n.ID(name) != 0 })
	return c
}

// Next returns the client's next message that does not start with skip
// ("" skips nothing), failing the test after Wait.
func (c *Client) Next(t *testing.T, skip string) string {
	t.Helper()
	deadline := time.After(Wait)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				t.Fatalf("%s: connection closed while waiting for a message", c.Name)
			}
			if skip != "" && strings.HasPrefix(m, skip) {
				continue
			}
			return m
		case <-deadline:
			t.Fatalf("%s: no message within %v", c.Name, Wait)
		}
	}
}

// Until reads the client's messages up to and including marker and returns
// those before it (skipping those starting with skip).
func (c *Client) Until(t *testing.T, marker, skip string) []string {
	t.Helper()
	var got []string
	for i := 0; i < 100000; i++ {
		m := c.Next(t, skip)
		if m == marker {
			return got
		}
		got = append(got, m)
	}
	t.Fatalf("%s: marker %q never came", c.Name, marker)
	return nil
}

// Closed waits for the server to close the client's connection and returns
// the close code.
func (c *Client) Closed(t *testing.T) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(Wait):
		t.Fatalf("%s: still open after %v", c.Name, Wait)
	}
	_, _, err := c.ws.ReadMessage()
	var ce *websocket.CloseError
	if e, ok := err.(*websocket.CloseError); ok {
		ce = e
		return ce.Code
	}
	return 0
}

// WaitFor polls cond every 10 ms for up to Wait.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", Wait, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle publishes probes on topic ("" for Broadcast) from node pub until
// every client of want has received one, so that the brokers have learned
// of every subscription. Probes start with "probe"; readers skip them.
func settle(t *testing.T, pub *Node, topic string, want ...*Client) {
	t.Helper()
	got := make([]bool, len(want))
	deadline := time.Now().Add(Wait)
	for k := 0; ; k++ {
		p := []byte("probe" + strconv.Itoa(k))
		if topic == "" {
			pub.Node.Broadcast(wsserver.FormatText, p)
		} else {
			pub.Node.Publish(topic, wsserver.FormatText, p)
		}
		all := true
		for i, c := range want {
		drain:
			for !got[i] {
				select {
				case m := <-c.msgs:
					if strings.HasPrefix(m, "probe") {
						got[i] = true
					} else {
						t.Fatalf("%s: unexpected %q while settling", c.Name, m)
					}
				case <-time.After(20 * time.Millisecond):
					break drain
				}
			}
			all = all && got[i]
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions to %q did not reach every node within %v", topic, Wait)
		}
	}
}

// Run runs the whole suite against s.
func Run(t *testing.T, s Setup) {
	t.Run("BroadcastExactlyOnceOnEveryNode", func(t *testing.T) { testBroadcast(t, s) })
	t.Run("TopicReachesOnlySubscribers", func(t *testing.T) { testTopic(t, s) })
	t.Run("SendAndDisconnectRemote", func(t *testing.T) { testSend(t, s) })
	t.Run("PresenceConverges", func(t *testing.T) { testPresence(t, s) })
	t.Run("SlowSubscriberLossesCounted", func(t *testing.T) { testSlow(t, s) })
	t.Run("BrokerLossKeepsLocalDelivery", func(t *testing.T) { testBrokerLoss(t, s) })
	t.Run("NodeCrashPresenceExpires", func(t *testing.T) { testCrash(t, s) })
}

// Issue 13: "Broadcast reaches every connection on every node", "each
// message ... framed once per node": a broadcast from node 1 arrives exactly
// once at each client of each node, compressed clients included.
func testBroadcast(t *testing.T, s Setup) {
	nodes := Start(t, s.Engines(t, 3))
	var clients []*Client
	for i, n := range nodes {
		for j := range 2 { // the second with permessage-deflate
			clients = append(clients, dial(t, n, fmt.Sprintf("c%d%d", i, j), j == 1))
		}
	}
	settle(t, nodes[0], "", clients...)
	for k := range 20 { // long enough to be compressed (CompressMin)
		if _, err := nodes[k%3].Node.Broadcast(wsserver.FormatText, []byte("msg"+strconv.Itoa(k)+strings.Repeat(" ", 100))); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
	}
	for _, n := range nodes {
		n.Node.Broadcast(wsserver.FormatText, []byte("end-"+n.Node.ID()))
	}
	for _, c := range clients {
		// Order holds per publisher: each node's end marker follows its messages.
		counts := map[string]int{}
		ends := 0
		for ends < 3 {
			m := c.Next(t, "probe")
			if strings.HasPrefix(m, "end-") {
				ends++
				continue
			}
			counts[strings.TrimRight(m, " ")]++
		}
		for k := range 20 {
			if got := counts["msg"+strconv.Itoa(k)]; got != 1 {
				t.Errorf("%s got msg%d %d times, want exactly once", c.Name, k, got)
			}
		}
	}
}

// Issue 13: "a publish reaches every subscriber cluster-wide" and nobody
// else; order is kept per publisher and topic.
func testTopic(t *testing.T, s Setup) {
	nodes := Start(t, s.Engines(t, 3))
	sub1 := Dial(t, nodes[0], "sub1")
	other1 := Dial(t, nodes[0], "other1")
	sub2 := Dial(t, nodes[1], "sub2")
	other3 := Dial(t, nodes[2], "other3")
	nodes[0].subscribe(t, "room", "sub1")
	nodes[1].subscribe(t, "room", "sub2")
	nodes[2].subscribe(t, "elsewhere", "other3")
	settle(t, nodes[2], "room", sub1, sub2)
	const N = 50
	for k := range N {
		if _, err := nodes[2].Node.Publish("room", wsserver.FormatText, []byte("r"+strconv.Itoa(k))); err != nil {
			t.Fatal(err)
		}
	}
	nodes[2].Node.Publish("room", wsserver.FormatText, []byte("room-end"))
	for _, c := range []*Client{sub1, sub2} {
		got := c.Until(t, "room-end", "probe")
		if len(got) != N {
			t.Fatalf("%s got %d messages, want %d", c.Name, len(got), N)
		}
		for k, m := range got {
			if m != "r"+strconv.Itoa(k) {
				t.Fatalf("%s: message %d is %q: order per publisher and topic broken", c.Name, k, m)
			}
		}
	}
	// The others got nothing: a broadcast marker is the first thing they see.
	nodes[0].Node.Broadcast(wsserver.FormatText, []byte("bmark"))
	for _, c := range []*Client{other1, other3} {
		if m := c.Next(t, "probe"); m != "bmark" {
			t.Fatalf("%s, not subscribed, got %q", c.Name, m)
		}
	}
	// Unsubscribe: sub2 no longer gets room.
	if err := nodes[1].Node.Unsubscribe(nodes[1].ID("sub2"), "room"); err != nil {
		t.Fatal(err)
	}
	if got := nodes[1].Node.Topics(nodes[1].ID("sub2")); len(got) != 0 {
		t.Fatalf("Topics after Unsubscribe = %v", got)
	}
	// One publisher, so "after" would come before "bmark2" if it came at all.
	nodes[0].Node.Publish("room", wsserver.FormatText, []byte("after"))
	nodes[0].Node.Broadcast(wsserver.FormatText, []byte("bmark2"))
	if got := sub2.Until(t, "bmark2", "probe"); len(got) != 1 || got[0] != "bmark" {
		t.Fatalf("unsubscribed sub2 got %q before bmark2, want only bmark", got)
	}
	if got := sub1.Until(t, "bmark2", "probe"); len(got) != 2 || got[0] != "bmark" || got[1] != "after" {
		t.Fatalf("sub1 got %q, want bmark, after", got)
	}
}

// Issue 13: "a cluster-wide connection ID that names its node, so a Send or
// Disconnect to it is one publish to that node".
func testSend(t *testing.T, s Setup) {
	nodes := Start(t, s.Engines(t, 3))
	a := Dial(t, nodes[1], "a")
	b := Dial(t, nodes[1], "b")
	id := nodes[1].Node.ConnID(nodes[1].ID("a"))
	parsed, err := cluster.ParseConnID(id.String())
	if err != nil || parsed != id {
		t.Fatalf("ParseConnID(%q) = %v, %v", id, parsed, err)
	}
	before := nodes[2].Node.Stats().Received
	var lastErr error
	WaitFor(t, "a message sent from node 1 to a on node 2", func() bool {
		if lastErr = nodes[0].Node.Send(id, wsserver.FormatText, []byte("hello a")); lastErr != nil {
			t.Fatalf("Send: %v", lastErr)
		}
		select {
		case m := <-a.msgs:
			if m != "hello a" {
				t.Fatalf("a got %q", m)
			}
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
	// One publish to node 2: node 3 received none of it (only heartbeats).
	if got := nodes[2].Node.Stats().Received - before; got > 200 {
		t.Fatalf("node 3 received %d messages meanwhile", got)
	}
	if err := nodes[0].Node.Send(cluster.ConnID{Node: "nosuchnode", ID: 1}, wsserver.FormatText, []byte("x")); err == nil {
		t.Fatal("Send to an unknown node succeeded")
	}
	if err := nodes[2].Node.Disconnect(nodes[1].Node.ConnID(nodes[1].ID("b")), 4001, "bye"); err != nil {
		t.Fatal(err)
	}
	if code := b.Closed(t); code != 4001 {
		t.Fatalf("b closed with %d, want 4001", code)
	}
	WaitFor(t, "b gone from node 2", func() bool { return nodes[1].Srv.ConnectionCount() == 1 })
}

// Issue 13: "the cluster-wide connection count and list (per node:
// heartbeats with counts)": counts converge within a heartbeat or so, and
// the list names every connection with its node.
func testPresence(t *testing.T, s Setup) {
	nodes := Start(t, s.Engines(t, 3))
	Dial(t, nodes[0], "p1")
	Dial(t, nodes[1], "p2")
	Dial(t, nodes[1], "p3")
	for _, n := range nodes {
		WaitFor(t, "count 3 on "+n.Node.ID(), func() bool { return n.Node.ConnectionCount() == 3 })
	}
	ids, err := nodes[2].Node.Connections(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []cluster.ConnID{
		nodes[0].Node.ConnID(nodes[0].ID("p1")),
		nodes[1].Node.ConnID(nodes[1].ID("p2")),
		nodes[1].Node.ConnID(nodes[1].ID("p3")),
	}
	if len(ids) != 3 || ids[0] != want[0] || !(ids[1] == want[1] && ids[2] == want[2] || ids[1] == want[2] && ids[2] == want[1]) {
		t.Fatalf("Connections = %v, want %v", ids, want)
	}
	// A graceful leave is seen at once.
	nodes[0].Node.Close()
	WaitFor(t, "node1 gone", func() bool {
		return len(nodes[1].Node.Nodes()) == 2 && len(nodes[2].Node.Nodes()) == 2 && len(nodes[1].Left()) > 0
	})
	if l := nodes[1].Left(); len(l) != 1 || l[0] != "node1:left" {
		t.Fatalf("NodeLeft events = %v", l)
	}
}

// Issue 13: "a slow local client never blocks the broker subscription (its
// queue fills and the usual 10035/ReadyToSend or cut-off applies)" and "a
// slow subscriber's losses are counted".
func testSlow(t *testing.T, s Setup) {
	nodes := Start(t, s.Engines(t, 3))
	fast := Dial(t, nodes[1], "fast")
	slow := Dial(t, nodes[1], "slow")
	remote := Dial(t, nodes[2], "remote")
	nodes[1].subscribe(t, "firehose", "fast", "slow")
	nodes[2].subscribe(t, "firehose", "remote")
	settle(t, nodes[0], "firehose", fast, slow, remote)
	// slow stops reading: its socket and then its queue fill.
	slow.ws.SetReadDeadline(time.Now()) // its reader ends; nothing reads the socket
	<-slow.done
	big := bytes.Repeat([]byte("x"), 64<<10)
	const N = 400 // 25 MiB: more than the socket buffers and the queue hold
	for k := range N {
		msg := append([]byte(strconv.Itoa(k)+":"), big...)
		if _, err := nodes[0].Node.Publish("firehose", wsserver.FormatBinary, msg); err != nil {
			t.Fatal(err)
		}
		if k%8 == 7 {
			// Let the fast readers catch up (their readers have taken every
			// message so far): Publish never blocks, so a publisher faster
			// than a reader would overflow even a fast one's queue, and the
			// point is the slow one.
			WaitFor(t, "fast clients to catch up", func() bool { return len(fast.msgs) >= k+1 && len(remote.msgs) >= k+1 })
		}
	}
	nodes[0].Node.Publish("firehose", wsserver.FormatBinary, []byte("done"))
	for _, c := range []*Client{fast, remote} {
		got := c.Until(t, "done", "probe")
		if len(got) != N {
			t.Fatalf("%s got %d of %d messages beside a slow subscriber", c.Name, len(got), N)
		}
	}
	if d := nodes[1].Node.Stats().LocalDropped; d == 0 {
		t.Fatal("the slow subscriber's losses were not counted (LocalDropped 0)")
	}
}

// Issue 13: "a lost broker connection keeps local delivery working,
// reconnects and resubscribes by itself, and reports what was lost (Error
// event, counters)".
func testBrokerLoss(t *testing.T, s Setup) {
	if s.Cut == nil {
		t.Skip("this engine's setup cannot cut one node's broker")
	}
	nodes := Start(t, s.Engines(t, 3))
	local := Dial(t, nodes[0], "local")
	local2 := Dial(t, nodes[0], "local2")
	remote := Dial(t, nodes[1], "remote")
	nodes[0].subscribe(t, "news", "local", "local2")
	nodes[1].subscribe(t, "news", "remote")
	settle(t, nodes[1], "news", local, remote)
	settle(t, nodes[0], "news", remote, local2)

	s.Cut(t, 0)
	WaitFor(t, "node1 to report the lost broker", func() bool { return nodes[0].Node.Stats().Disconnects > 0 })
	// Local delivery goes on without the broker.
	nodes[0].Node.Publish("news", wsserver.FormatText, []byte("local while cut"))
	for _, c := range []*Client{local, local2} {
		if m := c.Next(t, "probe"); m != "local while cut" {
			t.Fatalf("%s got %q", c.Name, m)
		}
	}
	// What node 2 publishes meanwhile is lost for node 1.
	for k := range 5 {
		nodes[1].Node.Publish("news", wsserver.FormatText, []byte("missed"+strconv.Itoa(k)))
	}
	if m := remote.Until(t, "missed4", "probe"); len(m) != 4 {
		t.Fatalf("remote got %v", m)
	}
	s.Restore(t, 0)
	WaitFor(t, "node1 to reconnect", func() bool { return nodes[0].Node.Stats().Reconnects > 0 })
	// Resubscribed: node 2's publishes reach node 1 again, and the gap is
	// counted and reported.
	var got string
	WaitFor(t, "node 2's publish to reach node 1 after the reconnect", func() bool {
		nodes[1].Node.Publish("news", wsserver.FormatText, []byte("back"))
		select {
		case got = <-local.msgs:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	if !strings.HasPrefix(got, "back") && !strings.HasPrefix(got, "probe") {
		t.Fatalf("after reconnect local got %q", got)
	}
	WaitFor(t, "lost messages counted", func() bool { return nodes[0].Node.Stats().Lost >= 5 })
	reported := false
	for _, err := range nodes[0].Errors() {
		if e, ok := err.(*cluster.Error); ok && e.Op == "lost" && e.Lost >= 5 {
			reported = true
		}
	}
	if !reported {
		t.Fatalf("no Error event reported the lost messages: %v", nodes[0].Errors())
	}
}

// Issue 13: "a node crash leaves the others serving and drops the dead
// node's presence within the timeout".
func testCrash(t *testing.T, s Setup) {
	nodes := Start(t, s.Engines(t, 3))
	a := Dial(t, nodes[0], "a")
	b := Dial(t, nodes[1], "b")
	Dial(t, nodes[2], "c")
	settle(t, nodes[0], "", a, b)
	s.Kill(t, 2)
	WaitFor(t, "node3 expired on nodes 1 and 2", func() bool {
		return len(nodes[0].Left()) > 0 && len(nodes[1].Left()) > 0
	})
	for _, n := range nodes[:2] {
		if l := n.Left(); len(l) != 1 || l[0] != "node3:timeout" {
			t.Fatalf("%s: NodeLeft events %v", n.Node.ID(), l)
		}
	}
	// The others keep serving.
	nodes[1].Node.Broadcast(wsserver.FormatText, []byte("still here"))
	if m := a.Next(t, "probe"); m != "still here" {
		t.Fatalf("a got %q", m)
	}
	if n := nodes[0].Node.ConnectionCount(); n != 2 {
		t.Fatalf("cluster count after the crash = %d, want 2", n)
	}
}
