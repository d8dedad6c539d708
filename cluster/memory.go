package cluster

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Hub joins in-memory engines in one process, as a broker would join nodes:
// a publish on one reaches every engine of the hub subscribed to the
// channel. It is for tests and for several Servers in one program; across
// processes use a broker engine (cluster/nats, cluster/redis).
type Hub struct {
	mu      sync.RWMutex
	engines map[*Memory]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{engines: make(map[*Memory]struct{})} }

// Engine returns a new engine of the hub.
func (h *Hub) Engine() *Memory { return &Memory{hub: h} }

// memoryQueue is how many messages wait for one engine's delivery before
// more are dropped (and reported), as a broker drops for a slow consumer.
const memoryQueue = 8192

// errMemoryDown is Publish's error while SetConnected(false) is in force.
var errMemoryDown = errors.New("cluster: the in-memory engine is disconnected (SetConnected(false))")

// Memory is the in-memory engine. Made by NewMemory it has no peers: the
// Node delivers to its own connections and the engine carries nothing, which
// is how a Server without a cluster behaves. Made by a Hub it reaches the
// hub's other engines; each engine delivers from its own goroutine, through
// a queue of 8192 messages beyond which messages are dropped and reported.
type Memory struct {
	hub *Hub

	mu      sync.Mutex
	subs    map[string]bool
	deliver func(string, []byte)
	report  func(Report)
	queue   chan memoryMessage
	done    chan struct{}
	wg      sync.WaitGroup
	down    atomic.Bool
	opened  bool
}

type memoryMessage struct {
	channel string
	payload []byte
}

// NewMemory returns a single-node in-memory engine.
func NewMemory() *Memory { return &Memory{} }

// Open starts the engine.
func (m *Memory) Open(deliver func(string, []byte), report func(Report)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.opened {
		return errors.New("cluster: the engine is already open")
	}
	m.opened = true
	m.deliver, m.report = deliver, report
	m.subs = make(map[string]bool)
	if m.hub == nil {
		return nil
	}
	m.queue = make(chan memoryMessage, memoryQueue)
	m.done = make(chan struct{})
	m.wg.Add(1)
	go m.run()
	m.hub.mu.Lock()
	m.hub.engines[m] = struct{}{}
	m.hub.mu.Unlock()
	return nil
}

func (m *Memory) run() {
	defer m.wg.Done()
	for {
		select {
		case msg := <-m.queue:
			m.deliver(msg.channel, msg.payload)
		case <-m.done:
			return
		}
	}
}

// Publish queues payload for every engine of the hub subscribed to channel.
func (m *Memory) Publish(channel string, payload []byte) error {
	if m.hub == nil {
		return nil
	}
	if m.down.Load() {
		return errMemoryDown
	}
	var cp []byte
	m.hub.mu.RLock()
	defer m.hub.mu.RUnlock()
	for e := range m.hub.engines {
		if e.down.Load() || !e.subscribed(channel) {
			continue
		}
		if cp == nil {
			cp = append([]byte(nil), payload...)
		}
		select {
		case e.queue <- memoryMessage{channel, cp}:
		default:
			e.report(Report{Kind: Dropped, Lost: 1, Err: errors.New("cluster: in-memory engine queue full")})
		}
	}
	return nil
}

func (m *Memory) subscribed(channel string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.subs[channel]
}

// Subscribe makes the engine receive channel's messages.
func (m *Memory) Subscribe(channel string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs == nil {
		return errors.New("cluster: the engine is not open")
	}
	m.subs[channel] = true
	return nil
}

// Unsubscribe stops them.
func (m *Memory) Unsubscribe(channel string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.subs, channel)
	return nil
}

// SetConnected simulates losing (false) and regaining (true) the broker: while
// disconnected the engine neither sends nor receives, and it reports both
// changes as a broker engine would. For tests of failure handling.
func (m *Memory) SetConnected(up bool) {
	if m.down.Swap(!up) == !up {
		return
	}
	kind := Reconnected
	if !up {
		kind = Disconnected
	}
	m.mu.Lock()
	report := m.report
	m.mu.Unlock()
	if report != nil {
		report(Report{Kind: kind})
	}
}

// Close stops the engine; no delivery runs after it returns.
func (m *Memory) Close() error {
	if m.hub != nil {
		m.hub.mu.Lock()
		_, ok := m.hub.engines[m]
		delete(m.hub.engines, m)
		m.hub.mu.Unlock()
		if ok {
			close(m.done)
			m.wg.Wait()
		}
	}
	return nil
}
