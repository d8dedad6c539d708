// Package bufpool pools byte buffers in power-of-two size classes, so that
// large, short-lived buffers (a 1 MiB message, a burst of queued frames) are
// reused across connections instead of held by each or reallocated per use.
package bufpool

import (
	"math/bits"
	"sync"
	"unsafe"
)

const (
	minShift = 12 // 4 KiB: smaller buffers are not worth pooling
	maxShift = 26 // 64 MiB: larger ones are left to the garbage collector
)

var pools [maxShift - minShift + 1]sync.Pool

// class returns the index of the smallest class holding n bytes, or -1.
func class(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - minShift
	if c >= len(pools) {
		return -1
	}
	return c
}

// Get returns an empty buffer with a capacity of at least n bytes. The caller
// owns it until it hands it to Put.
func Get(n int) []byte {
	c := class(n)
	if c < 0 {
		return make([]byte, 0, n)
	}
	if p, ok := pools[c].Get().(*byte); ok {
		return unsafe.Slice(p, 1<<(c+minShift))[:0]
	}
	return make([]byte, 0, 1<<(c+minShift))
}

// Put returns b to its class for reuse; b must not be used afterwards.
// Buffers whose capacity is not a class size (or is too small) are dropped.
func Put(b []byte) {
	n := cap(b)
	if n < 1<<minShift || n&(n-1) != 0 {
		return
	}
	c := class(n)
	if c < 0 {
		return
	}
	// The pool holds the pointer to the first byte, which keeps the whole
	// array alive and, unlike a *[]byte, needs no allocation to store.
	pools[c].Put(unsafe.SliceData(b))
}

// Grow returns b with room for n more bytes, moving its content to a pooled
// buffer of the next fitting class (and returning the old one) when needed.
func Grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := Get(len(b) + n)
	nb = append(nb, b...)
	Put(b)
	return nb
}
