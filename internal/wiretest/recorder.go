package wiretest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Recorder writes down the events of a test as strings, in the order they
// happen, for a test to wait on. It is safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	list []string
	ch   chan struct{} // signalled on each Add
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{ch: make(chan struct{}, 1)} }

// Add records one event, formatted as fmt.Sprintf does.
func (r *Recorder) Add(format string, args ...any) {
	r.mu.Lock()
	r.list = append(r.list, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

// Snapshot returns the events so far.
func (r *Recorder) Snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.list...)
}

// WaitFor waits until ev has been recorded and returns every event so far.
func (r *Recorder) WaitFor(t testing.TB, ev string) []string {
	t.Helper()
	return r.WaitMatch(t, ev, func(s string) bool { return s == ev })
}

// WaitPrefix waits for an event starting with prefix and returns it.
func (r *Recorder) WaitPrefix(t testing.TB, prefix string) string {
	t.Helper()
	var found string
	r.WaitMatch(t, prefix+"...", func(s string) bool {
		if strings.HasPrefix(s, prefix) {
			found = s
			return true
		}
		return false
	})
	return found
}

// WaitMatch waits until an event satisfies match and returns every event so
// far; it fails the test after Timeout.
func (r *Recorder) WaitMatch(t testing.TB, what string, match func(string) bool) []string {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	for {
		list := r.Snapshot()
		for _, s := range list {
			if match(s) {
				return list
			}
		}
		select {
		case <-r.ch:
		case <-timer.C:
			t.Fatalf("timed out waiting for event %q; got %q", what, list)
		}
	}
}

// Count returns how many recorded events equal ev.
func (r *Recorder) Count(ev string) int {
	n := 0
	for _, s := range r.Snapshot() {
		if s == ev {
			n++
		}
	}
	return n
}

// WaitUntil polls cond until it holds, failing the test after Timeout.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Receive returns the next value from ch, failing the test after Timeout.
func Receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(Timeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}
