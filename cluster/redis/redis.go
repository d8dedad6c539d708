// Package redis is the Redis engine of the wsserver cluster package: nodes
// join through one Redis server's pub/sub (PUBLISH and SUBSCRIBE), or
// through a Redis Cluster's sharded pub/sub (SPUBLISH and SSUBSCRIBE), where
// each message goes only to the shard that owns its channel.
//
// One Redis server (redis:// or rediss:// URL): each node holds one
// subscriber connection, subscribed once per channel, and one publisher
// goroutine that sends what the node publishes in pipelines, in order,
// without waiting for each reply.
//
// Redis Cluster (redis+cluster://host:port,host:port,... or
// rediss+cluster://, see Options.URL): a cluster channel is hashed to one of
// Options.Partitions partitions, and its Redis channel is the partition's
// hash tag followed by the cluster channel ("{3}wsserver.t.room"), so that
// every channel of a partition lives in one hash slot and so on one shard.
// A node holds one subscriber connection per partition it uses (to the
// master that owns the partition's slot), and its publisher sends SPUBLISH
// in pipelines that go-redis splits by shard: a message crosses only the
// shard of its channel, never the whole Redis Cluster as PUBLISH would.
// Every node of a wsserver cluster must use the same Partitions. When a
// partition's slot moves to another master (resharding, or a failover),
// Redis drops the subscriptions there (or answers MOVED); the engine then
// subscribes again on the slot's new master by itself, losing what was
// published meanwhile. After a failed pipeline or a lost subscriber
// connection it has go-redis learn the cluster's layout again, so that a
// replica that took over from a dead master is found.
//
// Redis pub/sub delivers at most once: what is published while a node's
// subscriber connection is down is lost for it. The subscriber connections
// reconnect by themselves (go-redis makes the subscriptions again) and the
// engine reports the loss and the recovery; the node counts the messages
// that never came.
package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"
	"github.com/wsserver/wsserver/cluster"
)

// Options configures an Engine.
type Options struct {
	// URL names Redis. One server: redis://[user:password@]host:port[/db],
	// or rediss:// for TLS (go-redis's URL form, query options included).
	// A Redis Cluster:
	// redis+cluster://[user:password@]host:port[,host:port...][?options],
	// or rediss+cluster:// for TLS: the listed nodes are where the engine
	// starts to learn the cluster's layout (one reachable node is enough);
	// options are go-redis's cluster URL options (dial_timeout=3s, ...).
	URL string
	// QueueSize is how many publishes may wait for the publisher goroutine
	// (default 8192); beyond it Publish fails and the message is lost.
	QueueSize int
	// Partitions is, on a Redis Cluster, how many hash slots the cluster
	// channels are spread over (default 16, at most 1024): each node opens
	// at most this many subscriber connections. Every node of a wsserver
	// cluster must use the same number. Ignored for one server.
	Partitions int
	// Dialer, when set, opens the engine's connections to Redis instead of
	// go-redis's own dialer (a proxy, a custom network).
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Engine is a cluster.Engine on Redis pub/sub, or sharded pub/sub on a
// Redis Cluster.
type Engine struct {
	opts  Options
	ropts *goredis.Options        // one server
	copts *goredis.ClusterOptions // a Redis Cluster
	tags  []string                // the partitions' hash tags, "{0}", "{1}", ... (cluster)

	mu      sync.Mutex
	rdb     goredis.UniversalClient
	single  *goredis.Client            // rdb, one server
	cc      *goredis.ClusterClient     // rdb, a Redis Cluster
	waiters map[string][]chan struct{} // subscribe confirmations awaited, by Redis channel
	// movedSubs are the subscribers whose slot may have moved, with the
	// channels Redis dropped ("": all); moveWake wakes the mover.
	movedSubs map[*subscriber][]string
	moveWake  chan struct{}
	down      int // subscriber connections down
	opened    bool
	closed    bool

	smu    sync.Mutex          // guards shards and serializes Subscribe and Unsubscribe
	shards map[int]*subscriber // by partition (0 for one server)

	queue     chan pubMsg
	stopPub   chan struct{} // closed by Close: the publisher sends what is queued and ends
	pubDone   chan struct{}
	pubCtx    context.Context // the publisher's: Close cancels it 2 s after it began
	pubCancel context.CancelFunc
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	deliver   func(string, []byte)
	report    func(cluster.Report)
}

// subscriber is one subscriber connection: the only one for one server, one
// per partition in use on a Redis Cluster.
type subscriber struct {
	ps       *goredis.PubSub
	channels map[string]bool // the Redis channels subscribed (smu)
	ctx      context.Context
	cancel   context.CancelFunc
}

type pubMsg struct {
	channel string // the Redis channel
	payload []byte
}

// errQueueFull is Publish's error when the publisher is behind.
var errQueueFull = errors.New("cluster/redis: the publish queue is full (Redis slow or unreachable): message dropped")

// maxPartitions bounds Options.Partitions.
const maxPartitions = 1024

// New returns an engine for the Redis server or Redis Cluster opts names.
func New(opts Options) (*Engine, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	e := &Engine{opts: opts, waiters: make(map[string][]chan struct{}), shards: make(map[int]*subscriber)}
	if scheme, _, ok := strings.Cut(opts.URL, "://"); ok && (scheme == "redis+cluster" || scheme == "rediss+cluster") {
		co, err := parseClusterURL(opts.URL)
		if err != nil {
			return nil, err
		}
		co.MaxRetries = -1 // a publish is never retried: at most once
		co.Dialer = opts.Dialer
		e.copts = co
		if e.opts.Partitions == 0 {
			e.opts.Partitions = 16
		}
		if e.opts.Partitions < 0 || e.opts.Partitions > maxPartitions {
			return nil, fmt.Errorf("cluster/redis: Partitions %d is not 1 to %d", e.opts.Partitions, maxPartitions)
		}
		for p := range e.opts.Partitions {
			e.tags = append(e.tags, "{"+strconv.Itoa(p)+"}")
		}
		return e, nil
	}
	ro, err := goredis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("cluster/redis: %w (want redis://host:port, or redis+cluster://host:port,... for a Redis Cluster)", err)
	}
	ro.MaxRetries = -1
	if opts.Dialer != nil {
		ro.Dialer = opts.Dialer
	}
	e.ropts = ro
	return e, nil
}

// parseClusterURL turns redis+cluster://user:pass@h1:p1,h2:p2?opts into
// go-redis's cluster options (its own URL form lists the second and later
// nodes as addr= options).
func parseClusterURL(raw string) (*goredis.ClusterOptions, error) {
	bad := func(why string) error {
		return fmt.Errorf("cluster/redis: %q: %s (want redis+cluster://[user:password@]host:port[,host:port...])", raw, why)
	}
	scheme, rest, _ := strings.Cut(raw, "://")
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if strings.HasPrefix(tail, "/") {
		if path, _, _ := strings.Cut(tail, "?"); path != "/" {
			return nil, bad("a Redis Cluster has no database number")
		}
		tail = strings.TrimPrefix(tail, "/")
	}
	if strings.HasPrefix(tail, "#") {
		return nil, bad("no fragment allowed")
	}
	query := strings.TrimPrefix(tail, "?")
	userinfo := ""
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, authority = authority[:i+1], authority[i+1:]
	}
	hosts := strings.Split(authority, ",")
	for _, h := range hosts {
		if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
			return nil, bad(fmt.Sprintf("node %q is not host:port", h))
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, bad(err.Error())
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	u := strings.TrimSuffix(scheme, "+cluster") + "://" + userinfo + hosts[0]
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	co, err := goredis.ParseClusterURL(u)
	if err != nil {
		return nil, fmt.Errorf("cluster/redis: %q: %w", raw, err)
	}
	return co, nil
}

// Connect returns an engine for the Redis server or Redis Cluster at url
// (see Options.URL).
func Connect(url string) (*Engine, error) { return New(Options{URL: url}) }

// Sharded reports whether the engine uses a Redis Cluster's sharded
// pub/sub.
func (e *Engine) Sharded() bool { return e.copts != nil }

// redisChannel returns the Redis channel of a cluster channel: the channel
// itself on one server, the partition's hash tag and the channel on a
// Redis Cluster.
func (e *Engine) redisChannel(channel string) (string, int) {
	if e.copts == nil {
		return channel, 0
	}
	p := partition(channel, len(e.tags))
	return e.tags[p] + channel, p
}

// partition hashes channel (FNV-1a, 32 bits) to one of n partitions.
func partition(channel string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(channel); i++ {
		h ^= uint32(channel[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// Open connects to Redis (it fails when Redis cannot be reached) and starts
// the publisher goroutine and, for one server, the subscriber's.
func (e *Engine) Open(deliver func(string, []byte), report func(cluster.Report)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opened {
		return errors.New("cluster/redis: the engine was opened before")
	}
	e.opened = true
	e.deliver, e.report = deliver, report
	where := ""
	if e.copts != nil {
		e.cc = goredis.NewClusterClient(e.copts)
		e.rdb = e.cc
		where = strings.Join(e.copts.Addrs, ",")
	} else {
		e.single = goredis.NewClient(e.ropts)
		e.rdb = e.single
		where = e.ropts.Addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		e.rdb.Close()
		return fmt.Errorf("cluster/redis: %s: %w", where, err)
	}
	if e.cc != nil {
		// Sharded pub/sub needs every slot served: say so now rather than
		// with each publish.
		info, err := e.cc.ClusterInfo(ctx).Result()
		if err != nil {
			e.rdb.Close()
			return fmt.Errorf("cluster/redis: %s: CLUSTER INFO: %w (is it a Redis Cluster?)", where, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			e.rdb.Close()
			return fmt.Errorf("cluster/redis: %s: the Redis Cluster's state is not ok (CLUSTER INFO)", where)
		}
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if e.single != nil {
		e.startSubscriber(0, e.single.Subscribe(e.ctx))
	} else {
		e.moveWake = make(chan struct{}, 1)
		e.wg.Add(1)
		go e.mover()
	}
	e.queue = make(chan pubMsg, e.opts.QueueSize)
	e.stopPub = make(chan struct{})
	e.pubDone = make(chan struct{})
	e.pubCtx, e.pubCancel = context.WithCancel(context.Background())
	go e.publish()
	return nil
}

// startSubscriber starts the goroutine that receives what ps receives, as
// partition p's subscriber. smu is held, or the engine is opening.
func (e *Engine) startSubscriber(p int, ps *goredis.PubSub) *subscriber {
	s := &subscriber{ps: ps, channels: make(map[string]bool)}
	s.ctx, s.cancel = context.WithCancel(e.ctx)
	e.shards[p] = s
	e.wg.Add(1)
	go e.receive(s)
	return s
}

// setDown counts a subscriber connection lost (true) or regained (false),
// and reports the engine's first loss and its full recovery.
func (e *Engine) setDown(down bool, err error) {
	e.mu.Lock()
	quiet := e.closed // no news once Close has begun
	before := e.down
	if down {
		e.down++
	} else {
		e.down--
	}
	after := e.down
	e.mu.Unlock()
	switch {
	case quiet:
	case before == 0 && after > 0:
		e.report(cluster.Report{Kind: cluster.Disconnected, Err: err})
	case before > 0 && after == 0:
		e.report(cluster.Report{Kind: cluster.Reconnected})
	}
}

// receive delivers what a subscriber connection receives, reconnecting with
// a growing pause (50 ms to 1 s) while Redis is unreachable.
func (e *Engine) receive(s *subscriber) {
	defer e.wg.Done()
	down := false
	defer func() {
		if down { // the subscriber ends while down: it no longer counts
			e.setDown(false, nil)
		}
	}()
	pause := 50 * time.Millisecond
	sharded := e.copts != nil
	for {
		msg, err := s.ps.Receive(s.ctx)
		if s.ctx.Err() != nil {
			return
		}
		if sharded && isMoved(err) {
			// The partition's slot is served elsewhere now (resharding or
			// a failover): this connection will never carry it again.
			e.moved(s, "")
			return
		}
		if err != nil {
			if !down {
				down = true
				e.setDown(true, err)
			}
			if sharded {
				// The master may be gone for good (a replica takes over):
				// have go-redis learn the layout again, so that the next
				// attempt goes to the slot's owner of now.
				e.cc.ReloadState(s.ctx)
			}
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, time.Second)
			continue
		}
		if down {
			down = false
			pause = 50 * time.Millisecond
			e.setDown(false, nil)
		}
		switch m := msg.(type) {
		case *goredis.Message:
			ch := m.Channel
			if sharded { // drop the partition's hash tag
				ch = ch[strings.IndexByte(ch, '}')+1:]
			}
			// The payload is read, never written, and not kept after the
			// call: no copy of go-redis's string.
			e.deliver(ch, unsafe.Slice(unsafe.StringData(m.Payload), len(m.Payload)))
		case *goredis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				e.mu.Lock()
				for _, w := range e.waiters[m.Channel] {
					close(w)
				}
				delete(e.waiters, m.Channel)
				e.mu.Unlock()
			case "sunsubscribe":
				// Our SUNSUBSCRIBE's answer, or Redis dropping the channel
				// because its slot moved to another shard: the mover tells
				// them apart.
				e.moved(s, m.Channel)
			}
		}
	}
}

// isMoved reports whether err is Redis's MOVED redirection.
func isMoved(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "MOVED ")
}

// moved asks the mover to make subscriber s again on the master that now
// owns its slot, if channel ("" for any) is still subscribed there.
func (e *Engine) moved(s *subscriber, channel string) {
	e.mu.Lock()
	if e.movedSubs == nil {
		e.movedSubs = make(map[*subscriber][]string)
	}
	e.movedSubs[s] = append(e.movedSubs[s], channel)
	e.mu.Unlock()
	select {
	case e.moveWake <- struct{}{}:
	default:
	}
}

// mover makes again, on the slot's new master, the subscriber connections
// whose slot moved. It waits 100 ms first (and asks go-redis to reload the
// cluster's layout), so that a slot still moving costs a few attempts a
// second at most. Messages published meanwhile are lost (and counted by
// the node).
func (e *Engine) mover() {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.moveWake:
		}
		e.cc.ReloadState(e.ctx)
		select {
		case <-e.ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		e.mu.Lock()
		pending := e.movedSubs
		e.movedSubs = nil
		e.mu.Unlock()
		e.smu.Lock()
		for s, channels := range pending {
			e.resubscribe(s, channels)
		}
		e.smu.Unlock()
	}
}

// resubscribe replaces subscriber s with a new connection to its slot's
// master, subscribed to the same channels, when one of channels ("" for
// any) is still wanted. smu is held.
func (e *Engine) resubscribe(s *subscriber, channels []string) {
	if e.ctx.Err() != nil {
		return
	}
	p := -1
	for i, x := range e.shards {
		if x == s {
			p = i
		}
	}
	if p < 0 {
		return // replaced or closed meanwhile
	}
	wanted := false
	for _, ch := range channels {
		wanted = wanted || ch == "" || s.channels[ch]
	}
	if !wanted || len(s.channels) == 0 {
		return // the answer to our own SUNSUBSCRIBE
	}
	s.cancel()
	s.ps.Close()
	var list []string
	for ch := range s.channels {
		list = append(list, ch)
	}
	ps := e.cc.SSubscribe(e.ctx)
	ps.SSubscribe(e.ctx, list...) // one slot: one command; an error shows in the receiver
	ns := e.startSubscriber(p, ps)
	ns.channels = s.channels
}

// publish sends the queued messages in pipelines of up to 256, in order.
// When Close asks, it sends what is still queued (for 2 s at most) and ends.
func (e *Engine) publish() {
	defer close(e.pubDone)
	ctx := e.pubCtx
	batch := make([]pubMsg, 0, 256)
	cmds := make([]*goredis.IntCmd, 0, 256)
	stopping := false
	for {
		if !stopping {
			select {
			case m := <-e.queue:
				batch = append(batch[:0], m)
			case <-e.stopPub:
				stopping = true
				continue
			}
		} else {
			select {
			case m := <-e.queue:
				batch = append(batch[:0], m)
			default:
				return
			}
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case m := <-e.queue:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		pipe := e.rdb.Pipeline()
		cmds = cmds[:0]
		for _, m := range batch {
			if e.cc != nil {
				cmds = append(cmds, pipe.SPublish(ctx, m.channel, m.payload))
			} else {
				cmds = append(cmds, pipe.Publish(ctx, m.channel, m.payload))
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !stopping {
			if e.cc != nil {
				// A master may be gone (its replica taking over): learn the
				// layout again (go-redis does not when it may not retry).
				e.cc.ReloadState(ctx)
			}
			lost := 0
			for _, c := range cmds {
				if c.Err() != nil {
					lost++
				}
			}
			e.report(cluster.Report{Kind: cluster.Dropped, Lost: int64(lost), Err: fmt.Errorf("publishing: %w", err)})
		}
		clear(batch)
		clear(cmds)
	}
}

// Publish queues payload for the publisher goroutine.
func (e *Engine) Publish(channel string, payload []byte) error {
	if e.queue == nil {
		return errors.New("cluster/redis: the engine is not open")
	}
	rc, _ := e.redisChannel(channel)
	select {
	case e.queue <- pubMsg{rc, append([]byte(nil), payload...)}:
		return nil
	default:
		return errQueueFull
	}
}

// Subscribe subscribes to channel and waits (up to 5 s) for Redis to
// confirm. While Redis is unreachable the subscription is made on
// reconnecting.
func (e *Engine) Subscribe(channel string) error {
	rc, p := e.redisChannel(channel)
	e.smu.Lock()
	defer e.smu.Unlock()
	e.mu.Lock()
	if !e.opened || e.closed {
		e.mu.Unlock()
		return errors.New("cluster/redis: the engine is not open")
	}
	w := make(chan struct{})
	e.waiters[rc] = append(e.waiters[rc], w)
	e.mu.Unlock()
	s := e.shards[p]
	var err error
	switch {
	case s == nil:
		// The partition's first channel: a subscriber connection to the
		// master that owns its slot (go-redis picks it by the first
		// channel, and picks it again by it when reconnecting).
		ps := e.cc.SSubscribe(e.ctx)
		err = ps.SSubscribe(e.ctx, rc)
		s = e.startSubscriber(p, ps)
	case e.cc != nil:
		err = s.ps.SSubscribe(e.ctx, rc)
	default:
		err = s.ps.Subscribe(e.ctx, rc)
	}
	s.channels[rc] = true
	if err != nil {
		// The connection is down: go-redis keeps the channel and subscribes
		// when it reconnects.
		e.mu.Lock()
		delete(e.waiters, rc)
		e.mu.Unlock()
		return nil
	}
	select {
	case <-w:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("cluster/redis: subscription to %s not confirmed within 5 s", rc)
	case <-e.ctx.Done():
		return errors.New("cluster/redis: the engine is closed")
	}
}

// Unsubscribe unsubscribes from channel. On a Redis Cluster, a partition's
// subscriber connection closes with its last channel.
func (e *Engine) Unsubscribe(channel string) error {
	rc, p := e.redisChannel(channel)
	e.smu.Lock()
	defer e.smu.Unlock()
	s := e.shards[p]
	if s == nil || !s.channels[rc] {
		return nil
	}
	delete(s.channels, rc)
	if e.cc != nil && len(s.channels) == 0 {
		delete(e.shards, p)
		s.cancel()
		s.ps.Close()
		return nil
	}
	// An error means the connection is down; go-redis has forgotten the
	// channel all the same and will not subscribe to it again.
	if e.cc != nil {
		s.ps.SUnsubscribe(e.ctx, rc)
	} else {
		s.ps.Unsubscribe(e.ctx, rc)
	}
	return nil
}

// Close stops the goroutines and closes the connections; no delivery runs
// after it returns.
func (e *Engine) Close() error {
	e.mu.Lock()
	if !e.opened || e.closed {
		e.closed = true
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	close(e.stopPub)
	// What is queued has 2 s to go out, a pipeline under way included
	// (one stuck on an unreachable Redis is cancelled then).
	giveUp := time.AfterFunc(2*time.Second, e.pubCancel)
	<-e.pubDone
	giveUp.Stop()
	e.pubCancel()
	e.cancel()
	e.smu.Lock()
	for p, s := range e.shards {
		s.ps.Close()
		delete(e.shards, p)
	}
	e.smu.Unlock()
	e.wg.Wait()
	return e.rdb.Close()
}

var _ cluster.Engine = (*Engine)(nil)
