//go:build !linux

package wsserver

import "runtime"

// The event loops (internal/transport) use Linux's epoll. Elsewhere every
// connection is served by a goroutine, and EventLoop=True fails with
// ErrNotSupported (302), saying so.

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
