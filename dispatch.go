package wsserver

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/wsserver/wsserver/internal/protocol"
)

// EventDispatch says where event handlers run.
type EventDispatch int

const (
	// DispatchInline (the default) runs each connection's events on that
	// connection's goroutine as they happen, serialized per connection.
	DispatchInline EventDispatch = iota
	// DispatchQueued queues every event until the application calls
	// DoEvents, which runs them on its own goroutine, in order. A connection
	// waits while its event is queued, so ordering and the var parameters of
	// events keep their meaning.
	DispatchQueued
)

// SetEventDispatch selects where event handlers run. Set it before
// StartListening.
func (s *Server) SetEventDispatch(d EventDispatch) {
	s.dispatch.Store(int32(d))
}

// EventDispatch returns where event handlers run.
func (s *Server) EventDispatch() EventDispatch {
	return EventDispatch(s.dispatch.Load())
}

// doEventsWait is how long DoEvents waits for an event when none is queued.
const doEventsWait = 50 * time.Millisecond

// DoEvents runs the events queued under DispatchQueued, on the calling
// goroutine. When none is queued it waits up to 50 ms for one, then returns.
// Call it in a loop. Under DispatchInline it only waits, so a loop written for
// the reference works unchanged.
func (s *Server) DoEvents() {
	s.queue.run(doEventsWait)
}

// eventQueue holds events for DoEvents. The zero value is ready.
type eventQueue struct {
	mu    sync.Mutex
	items []queuedEvent
	ready chan struct{} // signalled (capacity 1) when items were added
	once  sync.Once
}

type queuedEvent struct {
	run  func()
	done chan struct{} // nil: nobody waits
}

func (q *eventQueue) init() { q.once.Do(func() { q.ready = make(chan struct{}, 1) }) }

// post queues fn. With wait it blocks until DoEvents has run it.
func (q *eventQueue) post(fn func(), wait bool) {
	q.init()
	var done chan struct{}
	if wait {
		done = make(chan struct{})
	}
	q.mu.Lock()
	q.items = append(q.items, queuedEvent{fn, done})
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	if done != nil {
		<-done
	}
}

// run runs the queued events, waiting up to wait for the first.
func (q *eventQueue) run(wait time.Duration) {
	q.init()
	q.mu.Lock()
	n := len(q.items)
	q.mu.Unlock()
	if n == 0 {
		t := time.NewTimer(wait)
		select {
		case <-q.ready:
		case <-t.C:
		}
		t.Stop()
	}
	q.mu.Lock()
	items := q.items
	q.items = nil
	q.mu.Unlock()
	for _, it := range items {
		it.run()
		if it.done != nil {
			close(it.done)
		}
	}
}

// handlerPanic records a panic in an event handler.
type handlerPanic struct {
	event string
	value any
	stack []byte
}

func (p *handlerPanic) Error() string {
	return fmt.Sprintf("%s event handler panicked: %v", p.event, p.value)
}

// call runs handler h with e on behalf of connection c (nil for server-wide
// events), in the way the dispatch mode says, and turns a panic into a
// *handlerPanic error.
func call[E any](s *Server, c *Connection, name string, h func(*E), e *E) error {
	if h == nil {
		return nil
	}
	if EventDispatch(s.dispatch.Load()) == DispatchQueued {
		return callQueued(s, name, h, e)
	}
	if c != nil {
		c.evmu.Lock()
		defer c.unlockEvents()
	}
	return protect(name, h, e)
}

// callQueued runs h(e) through the DoEvents queue and waits for it. It is
// apart from call so that call's inline path allocates nothing.
func callQueued[E any](s *Server, name string, h func(*E), e *E) error {
	var err error
	s.queue.post(func() { err = protect(name, h, e) }, true)
	return err
}

// protect runs h(e), turning a panic into a *handlerPanic.
func protect[E any](name string, h func(*E), e *E) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &handlerPanic{event: name, value: v, stack: debug.Stack()}
		}
	}()
	h(e)
	return nil
}

// reportPanic fires Error for a handler panic and logs its stack at debug level.
func (s *Server) reportPanic(id int, p *handlerPanic) {
	s.fireError(id, &Error{Code: 1011, Message: p.Error()})
	s.logf(id, 3, "%s", p.stack)
}

// fireError fires the Error event (never for a panic of its own handler).
func (s *Server) fireError(id int, err *Error) {
	if s.logLevel() >= 1 {
		s.fireLog(id, 1, "Error", "Error: %v", err) // the reference's LogType "Error"
	}
	e := &ErrorEvent{ConnectionID: id, ErrorCode: err.Code, Description: err.Error()}
	if perr := call(s, nil, "Error", s.Events.OnError, e); perr != nil {
		s.logf(id, 1, "%v", perr)
	}
}

// fireLog fires the Log event.
func (s *Server) fireLog(id, level int, logType, format string, args ...any) {
	e := &LogEvent{ConnectionID: id, LogLevel: level, LogType: logType, Message: fmt.Sprintf(format, args...)}
	// A panicking log handler must not recurse into logging.
	_ = call(s, nil, "Log", s.Events.OnLog, e)
}

// fireReadyToSend fires ReadyToSend, or leaves it for whoever holds the
// connection's event lock (a handler is running) to fire when it releases.
func (c *Connection) fireReadyToSend() {
	if EventDispatch(c.srv.dispatch.Load()) == DispatchQueued {
		h := c.srv.Events.OnReadyToSend
		if h != nil {
			ev := &ReadyToSendEvent{ConnectionID: c.id}
			c.srv.queue.post(func() {
				if err := protect("ReadyToSend", h, ev); err != nil {
					c.srv.reportPanic(c.id, err.(*handlerPanic))
				}
			}, false)
		}
		return
	}
	c.readyPending.Store(true)
	if c.evmu.TryLock() {
		c.unlockEvents()
	}
}

// unlockEvents releases the event lock, first firing a ReadyToSend that
// waited for it.
func (c *Connection) unlockEvents() {
	for c.readyPending.Swap(false) {
		h := c.srv.Events.OnReadyToSend
		if h == nil {
			continue
		}
		if err := protect("ReadyToSend", h, &ReadyToSendEvent{ConnectionID: c.id}); err != nil {
			c.srv.reportPanic(c.id, err.(*handlerPanic))
			c.disconnect(protocol.CloseInternalError, "internal server error")
		}
	}
	c.evmu.Unlock()
	// A ReadyToSend may have arrived between the Swap and the Unlock.
	if c.readyPending.Load() && c.evmu.TryLock() {
		c.unlockEvents()
	}
}
