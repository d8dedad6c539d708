package redis

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/wsserver/wsserver/cluster"
	"github.com/wsserver/wsserver/cluster/clustertest"
	"github.com/wsserver/wsserver/cluster/redis/redistest"
)

// cutter is a Dialer for one engine whose connections a test can cut: Cut
// closes them all and refuses new ones until Restore.
type cutter struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

var errCut = errors.New("test: this node's connections to Redis are cut")

// cutLogger is go-redis's log without its complaints about the dials that
// a cutter refuses on purpose.
type cutLogger struct{}

func (cutLogger) Printf(_ context.Context, format string, v ...any) {
	if msg := fmt.Sprintf(format, v...); !strings.Contains(msg, errCut.Error()) {
		log.Print("redis: " + msg)
	}
}

func (c *cutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return nil, errCut
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cutter) setCut(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for _, conn := range c.conns {
			conn.Close()
		}
		c.conns = nil
	}
}

// openEngine connects an engine to url and opens it with deliver and
// report (nil: ignore them); it closes when the test ends.
func openEngine(t *testing.T, url string, deliver func(string, []byte), report func(cluster.Report)) *Engine {
	t.Helper()
	if deliver == nil {
		deliver = func(string, []byte) {}
	}
	if report == nil {
		report = func(cluster.Report) {}
	}
	e, err := Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(deliver, report); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// clusterURL is the redis+cluster URL of the nodes at addrs.
func clusterURL(addrs []string) string { return "redis+cluster://" + strings.Join(addrs, ",") }

// TestRedisCluster runs the cluster suite (issue 13's Tests) against a
// real Redis Cluster of three masters, the engine on sharded pub/sub
// (SPUBLISH, SSUBSCRIBE). Each node's connections go through a dialer the
// test can cut, for the broker-loss and crash cases.
func TestRedisCluster(t *testing.T) {
	bin := redistest.ServerBin(t)
	var cutters []*cutter
	clustertest.Run(t, clustertest.Setup{
		Engines: func(t *testing.T, n int) []cluster.Engine {
			addrs := redistest.StartCluster(t, bin, 3)
			cutters = cutters[:0]
			var engines []cluster.Engine
			for range n {
				c := &cutter{}
				cutters = append(cutters, c)
				t.Cleanup(func() { c.setCut(true) })
				e, err := New(Options{URL: clusterURL(addrs), Dialer: c.dial})
				if err != nil {
					t.Fatal(err)
				}
				if !e.Sharded() {
					t.Fatal("a redis+cluster URL made an engine without sharded pub/sub")
				}
				engines = append(engines, e)
			}
			return engines
		},
		Cut:     func(t *testing.T, i int) { cutters[i].setCut(true) },
		Restore: func(t *testing.T, i int) { cutters[i].setCut(false) },
		Kill:    func(t *testing.T, i int) { cutters[i].setCut(true) },
	})
}

// commandCalls returns how many times the Redis at c ran command, from
// INFO commandstats.
func commandCalls(t *testing.T, c *goredis.Client, command string) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+command+":calls="); ok {
			n, _, _ := strings.Cut(rest, ",")
			calls, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("commandstats line %q", line)
			}
			return calls
		}
	}
	return 0
}

// TestRedisCluster_ShardedPublish checks issue 13's "sharded pub/sub
// (SPUBLISH) on Redis Cluster": a topic's messages are SPUBLISHed to the
// master that owns the channel's slot and to no other, the subscriber
// holds its SSUBSCRIBE there, and every message arrives once, in order.
func TestRedisCluster_ShardedPublish(t *testing.T) {
	bin := redistest.ServerBin(t)
	addrs := redistest.StartCluster(t, bin, 3)
	ctx := context.Background()
	got := make(chan string, 1000)
	pub := openEngine(t, clusterURL(addrs[:1]), nil, nil) // one seed node is enough
	sub := openEngine(t, clusterURL(addrs), func(ch string, p []byte) { got <- ch + " " + string(p) }, nil)
	const channel = "wsserver.t.room"
	if err := sub.Subscribe(channel); err != nil {
		t.Fatal(err)
	}
	rc, _ := sub.redisChannel(channel)
	owner := ""
	var masters []*goredis.Client
	for _, a := range addrs {
		c := goredis.NewClient(&goredis.Options{Addr: a})
		defer c.Close()
		masters = append(masters, c)
		n, err := c.Do(ctx, "PUBSUB", "SHARDNUMSUB", rc).Slice()
		if err != nil {
			t.Fatal(err)
		}
		if n[1].(int64) == 1 {
			if owner != "" {
				t.Fatalf("%s is subscribed on %s and %s", rc, owner, a)
			}
			owner = a
		}
	}
	slot, err := masters[0].ClusterKeySlot(ctx, rc).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := redistest.Owner(addrs, int(slot)); owner != want {
		t.Fatalf("the SSUBSCRIBE to %s (slot %d) is on %q, want the slot's master %s", rc, slot, owner, want)
	}
	before := make([]int, len(masters))
	for i, m := range masters {
		before[i] = commandCalls(t, m, "spublish")
	}
	const N = 100
	for k := range N {
		if err := pub.Publish(channel, []byte("m"+strconv.Itoa(k))); err != nil {
			t.Fatal(err)
		}
	}
	for k := range N {
		select {
		case m := <-got:
			if want := channel + " m" + strconv.Itoa(k); m != want {
				t.Fatalf("message %d: got %q, want %q", k, m, want)
			}
		case <-time.After(clustertest.Wait):
			t.Fatalf("got %d of %d messages", k, N)
		}
	}
	for i, m := range masters {
		calls := commandCalls(t, m, "spublish") - before[i]
		if addrs[i] == owner && calls != N {
			t.Errorf("the channel's master %s ran %d SPUBLISH, want %d", addrs[i], calls, N)
		}
		if addrs[i] != owner && calls != 0 {
			t.Errorf("master %s, which does not own the channel, ran %d SPUBLISH", addrs[i], calls)
		}
		if n := commandCalls(t, m, "publish"); n != 0 {
			t.Errorf("master %s ran PUBLISH %d times: the engine must use SPUBLISH only", addrs[i], n)
		}
	}
}

// TestClusterURL checks the redis+cluster URL form of Options.URL.
func TestClusterURL(t *testing.T) {
	for _, tc := range []struct {
		url   string
		addrs []string
		user  string
		pass  string
		tls   bool
		err   string
	}{
		{url: "redis+cluster://127.0.0.1:7000", addrs: []string{"127.0.0.1:7000"}},
		{url: "redis+cluster://a:7000,b:7001,[::1]:7002", addrs: []string{"a:7000", "b:7001", "[::1]:7002"}},
		{url: "redis+cluster://u:p%40ss@a:7000,b:7001/?dial_timeout=2s", addrs: []string{"a:7000", "b:7001"}, user: "u", pass: "p@ss"},
		{url: "rediss+cluster://a:7000", addrs: []string{"a:7000"}, tls: true},
		{url: "redis+cluster://a:7000/1", err: "no database number"},
		{url: "redis+cluster://a,b:7001", err: `node "a" is not host:port`},
		{url: "redis+cluster://", err: "is not host:port"},
		{url: "redis+cluster://a:7000?nosuchoption=1", err: "nosuchoption"},
	} {
		e, err := New(Options{URL: tc.url})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one with %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		o := e.copts
		if fmt.Sprint(o.Addrs) != fmt.Sprint(tc.addrs) || o.Username != tc.user || o.Password != tc.pass || (o.TLSConfig != nil) != tc.tls {
			t.Errorf("%s: addrs %v user %q password %q TLS %v", tc.url, o.Addrs, o.Username, o.Password, o.TLSConfig != nil)
		}
		if !e.Sharded() || e.opts.Partitions != 16 {
			t.Errorf("%s: sharded %v, %d partitions", tc.url, e.Sharded(), e.opts.Partitions)
		}
	}
	if e, err := Connect("redis://127.0.0.1:6379"); err != nil || e.Sharded() {
		t.Errorf("redis:// is one server: %v, %v", e, err)
	}
	if _, err := New(Options{URL: "redis+cluster://a:1", Partitions: 5000}); err == nil {
		t.Error("5000 partitions accepted")
	}
}

// TestPartition checks that a channel's partition is FNV-1a (32 bits) of
// its name modulo the partitions, fixed across versions (every node of a
// cluster must map a channel alike; the values were computed apart from
// this code), and that channels spread over the partitions.
func TestPartition(t *testing.T) {
	for _, tc := range []struct {
		channel string
		n, want int
	}{
		{"wsserver.all", 16, 13}, {"wsserver.all", 1024, 189},
		{"wsserver.t.room", 16, 3}, {"wsserver.t.room", 1024, 515},
		{"wsserver.n.node1", 16, 5}, {"wsserver.n.node1", 1024, 949},
	} {
		if got := partition(tc.channel, tc.n); got != tc.want {
			t.Errorf("partition(%q, %d) = %d, want %d", tc.channel, tc.n, got, tc.want)
		}
	}
	used := map[int]bool{}
	for k := range 256 {
		p := partition("wsserver.t.room"+strconv.Itoa(k), 16)
		if p < 0 || p >= 16 {
			t.Fatalf("partition %d out of range", p)
		}
		used[p] = true
	}
	if len(used) != 16 {
		t.Fatalf("256 channels used %d of 16 partitions", len(used))
	}
}

// TestRedisCluster_SlotMoved: when a subscribed channel's slot moves to
// another master (resharding), Redis drops the subscription (SUNSUBSCRIBE
// from the server); the engine subscribes again on the new master by
// itself, and messages flow again, in order.
func TestRedisCluster_SlotMoved(t *testing.T) {
	bin := redistest.ServerBin(t)
	addrs := redistest.StartCluster(t, bin, 3)
	ctx := context.Background()
	got := make(chan string, 10000)
	pub := openEngine(t, clusterURL(addrs), nil, nil)
	sub := openEngine(t, clusterURL(addrs), func(_ string, p []byte) { got <- string(p) }, nil)
	const channel = "wsserver.t.moving"
	if err := sub.Subscribe(channel); err != nil {
		t.Fatal(err)
	}
	receive := receiver(t, pub, channel, got, clustertest.Wait)
	receive("before")

	rc, _ := sub.redisChannel(channel)
	var masters []*goredis.Client
	var ids []string
	for _, a := range addrs {
		c := goredis.NewClient(&goredis.Options{Addr: a})
		defer c.Close()
		id, err := c.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatal(err)
		}
		masters = append(masters, c)
		ids = append(ids, id)
	}
	slot64, err := masters[0].ClusterKeySlot(ctx, rc).Result()
	if err != nil {
		t.Fatal(err)
	}
	slot := int(slot64)
	from := slices.Index(addrs, redistest.Owner(addrs, slot))
	to := (from + 1) % len(addrs)
	// The slot holds no keys: moving it is IMPORTING on the target,
	// MIGRATING on the source, then NODE on every master.
	steps := []struct {
		on   int
		args []any
	}{
		{to, []any{"CLUSTER", "SETSLOT", slot, "IMPORTING", ids[from]}},
		{from, []any{"CLUSTER", "SETSLOT", slot, "MIGRATING", ids[to]}},
		{to, []any{"CLUSTER", "SETSLOT", slot, "NODE", ids[to]}},
		{from, []any{"CLUSTER", "SETSLOT", slot, "NODE", ids[to]}},
	}
	for i := range masters {
		if i != from && i != to {
			steps = append(steps, struct {
				on   int
				args []any
			}{i, []any{"CLUSTER", "SETSLOT", slot, "NODE", ids[to]}})
		}
	}
	for _, st := range steps {
		if err := masters[st.on].Do(ctx, st.args...).Err(); err != nil {
			t.Fatalf("%v on %s: %v", st.args, addrs[st.on], err)
		}
	}
	clustertest.WaitFor(t, "the subscription on the slot's new master", func() bool {
		n, err := masters[to].Do(ctx, "PUBSUB", "SHARDNUMSUB", rc).Slice()
		return err == nil && n[1].(int64) == 1
	})
	receive("after")
}

// TestRedisCluster_Failover: the master that holds a subscribed channel's
// slot is killed; its replica takes over (cluster node timeout 1 s), and
// the engine's subscriber and publisher move to it by themselves: messages
// flow again, in order, and the outage was reported.
func TestRedisCluster_Failover(t *testing.T) {
	bin := redistest.ServerBin(t)
	rc := redistest.StartReplicated(t, bin, 3)
	seeds := append(append([]string(nil), rc.Masters...), rc.Replicas...)
	got := make(chan string, 10000)
	var mu sync.Mutex
	var reports []cluster.Report
	pub := openEngine(t, clusterURL(seeds), nil, nil)
	sub := openEngine(t, clusterURL(seeds), func(_ string, p []byte) { got <- string(p) }, func(r cluster.Report) {
		mu.Lock()
		reports = append(reports, r)
		mu.Unlock()
	})
	const channel = "wsserver.t.failover"
	if err := sub.Subscribe(channel); err != nil {
		t.Fatal(err)
	}
	// After a failover the publisher needs a few seconds to learn the new
	// layout (its pipelines to the dead master fail first): a longer wait.
	receive := receiver(t, pub, channel, got, 3*clustertest.Wait)
	receive("before")

	redisChannel, _ := sub.redisChannel(channel)
	slot := int(goredisSlot(t, rc.Masters[0], redisChannel))
	master := redistest.Owner(rc.Masters, slot)
	replica := rc.Replicas[slices.Index(rc.Masters, master)]
	rc.Kill(master)
	clustertest.WaitFor(t, "the replica "+replica+" to take over", func() bool { return rc.Role(replica) == "master" })
	clustertest.WaitFor(t, "the subscription on the new master", func() bool {
		return shardSubscribers(t, replica, redisChannel) == 1
	})
	receive("after")
	mu.Lock()
	defer mu.Unlock()
	var kinds []cluster.ReportKind
	for _, r := range reports {
		kinds = append(kinds, r.Kind)
	}
	if !slices.Contains(kinds, cluster.Disconnected) {
		t.Errorf("the subscriber's reports %v have no Disconnected", kinds)
	}
}

// shardSubscribers returns the subscribers of the shard channel ch on the
// Redis at addr (PUBSUB SHARDNUMSUB).
func shardSubscribers(t *testing.T, addr, ch string) int64 {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	n, err := c.Do(context.Background(), "PUBSUB", "SHARDNUMSUB", ch).Slice()
	if err != nil {
		return -1
	}
	return n[1].(int64)
}

// goredisSlot returns the hash slot of key, as the Redis at addr says.
func goredisSlot(t *testing.T, addr, key string) int64 {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	slot, err := c.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return slot
}

// receiver returns a function that publishes probes on channel through pub
// until one arrives on got, then a numbered run that must arrive whole and
// in order.
func receiver(t *testing.T, pub *Engine, channel string, got chan string, wait time.Duration) func(run string) {
	return func(run string) {
		t.Helper()
		deadline := time.Now().Add(wait)
	probe:
		for {
			if err := pub.Publish(channel, []byte("probe")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-got:
				break probe
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no message reached the subscriber in %v", run, wait)
			}
		}
		for k := range 20 {
			pub.Publish(channel, []byte(run+strconv.Itoa(k)))
		}
		for k := 0; k < 20; {
			select {
			case m := <-got:
				if m == "probe" {
					continue
				}
				if want := run + strconv.Itoa(k); m != want {
					t.Fatalf("got %q, want %q", m, want)
				}
				k++
			case <-time.After(wait):
				t.Fatalf("%s: got %d of 20 messages", run, k)
			}
		}
	}
}
