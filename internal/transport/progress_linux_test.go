package transport

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// fakeSocket is a rawWriter over one end of a socket pair whose time is a
// script: while the socket is full, the next event is either the peer
// reading everything (at the script's next time) or the deadline.
type fakeSocket struct {
	fd, peer int
	start    time.Time
	now      time.Time
	deadline time.Time
	reads    []time.Duration // when the peer reads, from start
}

func (f *fakeSocket) Write(fn func(uintptr) bool) error {
	for range 1000 {
		if fn(uintptr(f.fd)) {
			return nil
		}
		if len(f.reads) > 0 && f.start.Add(f.reads[0]).Before(f.deadline) {
			f.now = f.start.Add(f.reads[0])
			f.reads = f.reads[1:]
			buf := make([]byte, 64<<10)
			for {
				if n, _ := syscall.Read(f.peer, buf); n <= 0 {
					break
				}
			}
			continue
		}
		f.now = f.deadline
		return os.ErrDeadlineExceeded
	}
	return errors.New("fakeSocket: no end")
}

// TestSend_TimeoutRunsFromLastProgress_Issue11 checks the Timeout > 0
// deadline of a blocking send (reference, Timeout: "all timeouts are
// inactivity timeouts"): it runs from the last time bytes moved, so a send
// to a client that reads at 0.5, 1.0 and 1.5 s and then stops fails exactly
// Timeout after 1.5 s, not Timeout after a write that began earlier.
func TestSend_TimeoutRunsFromLastProgress_Issue11(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	syscall.SetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
	start := time.Unix(1000, 0)
	f := &fakeSocket{fd: fds[0], peer: fds[1], start: start, now: start,
		reads: []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond}}
	progress := 0
	n, err := progressWrite(f,
		func(d time.Time) error { f.deadline = d; return nil },
		func() time.Time { return f.now },
		make([]byte, 8<<20), time.Second,
		func() bool { return false },
		func() { progress++ })
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the write ended with %v after %d bytes, want a deadline", err, n)
	}
	if want := start.Add(2500 * time.Millisecond); !f.now.Equal(want) {
		t.Errorf("the send timed out %v after the start, want 2.5s: 1 s after the last progress at 1.5 s", f.now.Sub(start))
	}
	if progress < 4 || n == 0 {
		t.Errorf("%d progress reports, %d bytes written; want one for the first write and each of the 3 reads", progress, n)
	}
}
