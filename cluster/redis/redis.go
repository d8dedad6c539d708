// Package redis is the Redis engine of the wsserver cluster package: nodes
// join through one Redis server's pub/sub (PUBLISH and SUBSCRIBE).
//
// Each node holds one subscriber connection, subscribed once per channel,
// and one publisher goroutine that sends what the node publishes in
// pipelines, in order, without waiting for each reply. Redis pub/sub
// delivers at most once: what is published while a node's subscriber
// connection is down is lost for it. The subscriber reconnects by itself
// (go-redis makes the subscriptions again) and the engine reports the loss
// and the recovery; the node counts the messages that never came.
package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"
	"github.com/wsserver/wsserver/cluster"
)

// Options configures an Engine.
type Options struct {
	// URL is the Redis server, redis://[user:password@]host:port[/db] or
	// rediss:// for TLS.
	URL string
	// QueueSize is how many publishes may wait for the publisher goroutine
	// (default 8192); beyond it Publish fails and the message is lost.
	QueueSize int
}

// Engine is a cluster.Engine on Redis pub/sub.
type Engine struct {
	opts  Options
	ropts *goredis.Options

	mu      sync.Mutex
	rdb     *goredis.Client
	ps      *goredis.PubSub
	waiters map[string][]chan struct{} // SUBSCRIBE confirmations awaited
	opened  bool
	closed  bool

	queue   chan pubMsg
	stopPub chan struct{} // closed by Close: the publisher sends what is queued and ends
	pubDone chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	deliver func(string, []byte)
	report  func(cluster.Report)
}

type pubMsg struct {
	channel string
	payload []byte
}

// errQueueFull is Publish's error when the publisher is behind.
var errQueueFull = errors.New("cluster/redis: the publish queue is full (Redis slow or unreachable): message dropped")

// New returns an engine for the Redis server opts names.
func New(opts Options) (*Engine, error) {
	ro, err := goredis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("cluster/redis: %w", err)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	ro.MaxRetries = -1 // a publish is never retried: at most once
	return &Engine{opts: opts, ropts: ro, waiters: make(map[string][]chan struct{})}, nil
}

// Connect returns an engine for the Redis server at url.
func Connect(url string) (*Engine, error) { return New(Options{URL: url}) }

// Open connects to Redis (it fails when Redis cannot be reached) and starts
// the subscriber and publisher goroutines.
func (e *Engine) Open(deliver func(string, []byte), report func(cluster.Report)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opened {
		return errors.New("cluster/redis: the engine was opened before")
	}
	e.opened = true
	e.deliver, e.report = deliver, report
	e.rdb = goredis.NewClient(e.ropts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		e.rdb.Close()
		return fmt.Errorf("cluster/redis: %s: %w", e.ropts.Addr, err)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.ps = e.rdb.Subscribe(e.ctx)
	e.queue = make(chan pubMsg, e.opts.QueueSize)
	e.stopPub = make(chan struct{})
	e.pubDone = make(chan struct{})
	e.wg.Add(1)
	go e.receive()
	go e.publish()
	return nil
}

// receive delivers what the subscriber connection receives, reconnecting
// with a growing pause (50 ms to 1 s) while Redis is unreachable.
func (e *Engine) receive() {
	defer e.wg.Done()
	down := false
	pause := 50 * time.Millisecond
	for {
		msg, err := e.ps.Receive(e.ctx)
		if e.ctx.Err() != nil {
			return
		}
		if err != nil {
			if !down {
				down = true
				e.report(cluster.Report{Kind: cluster.Disconnected, Err: err})
			}
			select {
			case <-e.ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, time.Second)
			continue
		}
		if down {
			down = false
			pause = 50 * time.Millisecond
			e.report(cluster.Report{Kind: cluster.Reconnected})
		}
		switch m := msg.(type) {
		case *goredis.Message:
			// The payload is read, never written, and not kept after the
			// call: no copy of go-redis's string.
			e.deliver(m.Channel, unsafe.Slice(unsafe.StringData(m.Payload), len(m.Payload)))
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				e.mu.Lock()
				for _, w := range e.waiters[m.Channel] {
					close(w)
				}
				delete(e.waiters, m.Channel)
				e.mu.Unlock()
			}
		}
	}
}

// publish sends the queued messages in pipelines of up to 256, in order.
// When Close asks, it sends what is still queued (for 2 s at most) and ends.
func (e *Engine) publish() {
	defer close(e.pubDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batch := make([]pubMsg, 0, 256)
	stopping := false
	for {
		if !stopping {
			select {
			case m := <-e.queue:
				batch = append(batch[:0], m)
			case <-e.stopPub:
				stopping = true
				time.AfterFunc(2*time.Second, cancel)
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
		for _, m := range batch {
			pipe.Publish(ctx, m.channel, m.payload)
		}
		if _, err := pipe.Exec(ctx); err != nil && !stopping {
			e.report(cluster.Report{Kind: cluster.Dropped, Lost: int64(len(batch)), Err: fmt.Errorf("publishing: %w", err)})
		}
		clear(batch)
	}
}

// Publish queues payload for the publisher goroutine.
func (e *Engine) Publish(channel string, payload []byte) error {
	if e.queue == nil {
		return errors.New("cluster/redis: the engine is not open")
	}
	select {
	case e.queue <- pubMsg{channel, append([]byte(nil), payload...)}:
		return nil
	default:
		return errQueueFull
	}
}

// Subscribe subscribes to channel and waits (up to 5 s) for Redis to
// confirm. While Redis is unreachable the subscription is made on
// reconnecting.
func (e *Engine) Subscribe(channel string) error {
	e.mu.Lock()
	if !e.opened || e.closed {
		e.mu.Unlock()
		return errors.New("cluster/redis: the engine is not open")
	}
	w := make(chan struct{})
	e.waiters[channel] = append(e.waiters[channel], w)
	e.mu.Unlock()
	if err := e.ps.Subscribe(e.ctx, channel); err != nil {
		// The connection is down: go-redis keeps the channel and subscribes
		// when it reconnects.
		e.mu.Lock()
		delete(e.waiters, channel)
		e.mu.Unlock()
		return nil
	}
	select {
	case <-w:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("cluster/redis: SUBSCRIBE %s not confirmed within 5 s", channel)
	case <-e.ctx.Done():
		return errors.New("cluster/redis: the engine is closed")
	}
}

// Unsubscribe unsubscribes from channel.
func (e *Engine) Unsubscribe(channel string) error {
	if e.ps == nil {
		return nil
	}
	// An error means the connection is down; go-redis has forgotten the
	// channel all the same and will not subscribe to it again.
	e.ps.Unsubscribe(e.ctx, channel)
	return nil
}

// Close stops both goroutines and closes the connections; no delivery runs
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
	<-e.pubDone
	e.cancel()
	e.ps.Close()
	e.wg.Wait()
	return e.rdb.Close()
}

var _ cluster.Engine = (*Engine)(nil)
