//go:build !linux

package transport

import "time"

// Engine would run event loops; they need Linux's epoll, so here every
// connection is read by a goroutine (Serve).
type Engine struct{}

// onLoop reports false: there are no event loops here.
func (e *Engine) onLoop(Conn, time.Duration) bool { return false }

// loopReading is never called: no socket is on a loop here.
func loopReading(epfd, fd int, on bool) {}

// Raw reports false, false: raw sockets need Linux.
func Raw(Conn) (raw, twin bool) { return false, false }
