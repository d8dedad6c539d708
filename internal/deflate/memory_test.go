package deflate

import (
	"runtime"
	"testing"
)

// retainedPerCompressor returns the heap bytes that n Compressors for p at
// level keep after compressing one message each.
func retainedPerCompressor(p Params, level, n int, msg []byte) float64 {
	cs := make([]*Compressor, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC() // twice: also empties the writer pools' victim caches
	runtime.ReadMemStats(&before)
	for i := range cs {
		cs[i] = NewCompressor(p, level)
		cs[i].Compress(nil, msg)
	}
	runtime.GC()
	runtime.GC() // pooled writers are not retained per connection
	runtime.ReadMemStats(&after)
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	for _, c := range cs {
		c.Close()
	}
	runtime.KeepAlive(cs)
	return per
}

func TestCompressorMemory_RFC7692_7_1_1_1(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures the heap; the race detector changes allocations and drops pooled items")
	}
	msg := textMessage(1, 1024)
	const n = 20
	for _, level := range []int{BestSpeed, 2, 3, 4, DefaultCompression, 6, 7, 8, BestCompression} {
		per := retainedPerCompressor(DefaultParams(), level, n, msg)
		t.Logf("context takeover, level %2d: %8.0f bytes retained per connection", level, per)
		if per < 10_000 {
			t.Errorf("level %d: only %.0f bytes per connection with context takeover; the writer is not held?", level, per)
		}
	}
	// Without context takeover, with Huffman-only coding (small server
	// window), or with stored blocks, nothing but the Compressor itself is
	// retained.
	for _, tc := range []struct {
		p     Params
		level int
	}{
		{Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 15}, DefaultCompression},
		{Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 15}, BestCompression},
		{Params{ServerMaxWindowBits: 10}, DefaultCompression},
		{Params{ServerMaxWindowBits: 15}, NoCompression},
	} {
		per := retainedPerCompressor(tc.p, tc.level, 2000, msg)
		t.Logf("%+v level %d: %.0f bytes retained per connection", tc.p, tc.level, per)
		if per > 128 {
			t.Errorf("%+v level %d: %.0f bytes retained per connection, want (almost) none", tc.p, tc.level, per)
		}
	}
}
