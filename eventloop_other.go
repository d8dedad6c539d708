//go:build !linux

package wsserver

import "runtime"

// The event loops (eventloop_linux.go) use Linux's epoll. Elsewhere every
// connection is served by a goroutine, and EventLoop=True fails with
// ErrNotSupported (302), saying so.

// poller is an event loop on Linux; no connection has one here.
type poller struct{}

// handOff would give an open connection to an event loop: there are none.
func handOff(*Connection) bool { return false }

// flushOnce is the event loops' flush; never called without them.
func (c *Connection) flushOnce() { c.flushLoop(0) }

func init() {
	st := settingsByName["eventloop"]
	parse := st.parse
	st.parse = func(v string) (change, error) {
		ch, err := parse(v)
		if err != nil {
			return nil, err
		}
		if on, _ := parseBool("EventLoop", v); on {
			return nil, newError(ErrNotSupported, "EventLoop=True needs Linux's epoll; on %s each connection is served by a goroutine (the default)", runtime.GOOS)
		}
		return ch, nil
	}
}

// setReading would start or stop an event loop's reading of c; never called
// without event loops (c.poll is always nil).
func (p *poller) setReading(*Connection, bool) {}

// startPollers fails: the event loops need Linux's epoll.
func startPollers() error {
	return newError(ErrNotSupported, "event loops need Linux's epoll; on %s each connection is served by a goroutine", runtime.GOOS)
}
