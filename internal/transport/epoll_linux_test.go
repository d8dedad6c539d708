package transport

import (
	"syscall"
	"testing"
	"time"
)

// TestPoller_PollFindsReadyAndBacksOff checks a loop's polling after a
// batch: it returns what is ready, and when nothing is within the time
// allowed it returns none and skips the next chance to poll.
func TestPoller_PollFindsReadyAndBacksOff(t *testing.T) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(epfd)
	p := &poller{epfd: epfd}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fds[0], &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fds[0])}); err != nil {
		t.Fatal(err)
	}
	events := make([]syscall.EpollEvent, 4)

	if n, err := p.poll(events, time.Millisecond); n != 0 || err != nil {
		t.Fatalf("poll with nothing ready = %d, %v", n, err)
	}
	if p.spin.start() {
		t.Fatal("after a poll that found nothing, the next chance to poll is not skipped")
	}
	if !p.spin.start() {
		t.Fatal("the chance after the skipped one does not poll")
	}

	syscall.Write(fds[1], []byte("x"))
	if n, err := p.poll(events, time.Millisecond); n != 1 || err != nil || events[0].Fd != int32(fds[0]) {
		t.Fatalf("poll with the pipe readable = %d, %v", n, err)
	}
	if p.spin != (spinBackoff{}) {
		t.Fatalf("a poll that found data left the backoff at %+v", p.spin)
	}
	// wait with spin 0 goes straight to epoll_wait, which finds the pipe.
	if n, err := p.wait(events, 0); n != 1 || err != nil {
		t.Fatalf("wait = %d, %v", n, err)
	}
}

// TestSpinBackoff checks the backoff of a loop whose polls find nothing:
// after k misses in a row it skips 2^k-1 chances (at most 63), and a poll
// that finds data starts over.
func TestSpinBackoff(t *testing.T) {
	var b spinBackoff
	// polls reports which of the next n chances poll, each poll missing.
	polls := func(n int) string {
		var out []byte
		for range n {
			if b.start() {
				out = append(out, 'P')
				b.end(false)
			} else {
				out = append(out, '.')
			}
		}
		return string(out)
	}
	if got, want := polls(16), "P.P...P.......P."; got != want {
		t.Fatalf("chances %s, want %s", got, want)
	}
	for range 10 { // well past the cap
		for !b.start() {
		}
		b.end(false)
	}
	if b.skip != 63 {
		t.Fatalf("skip after many misses = %d, want the cap 63", b.skip)
	}
	for !b.start() {
	}
	b.end(true)
	if got, want := polls(4), "P.P."; got != want {
		t.Fatalf("after a hit: chances %s, want %s", got, want)
	}
}
