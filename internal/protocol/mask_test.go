package protocol

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/wsserver/wsserver/internal/wiretest"
)

// TestMask_RFC6455_5_3_MatchesNaive compares Mask with the definition
// "j = i MOD 4; transformed-octet-i = original-octet-i XOR masking-key-octet-j"
// for every length up to 300 and lengths around the vector code's 128-byte
// steps, every key position, and every alignment of the slice in memory;
// with the vector code (where the CPU has it) and without.
func TestMask_RFC6455_5_3_MatchesNaive(t *testing.T) {
	lengths := []int{383, 384, 385, 511, 512, 513, 1000, 1024, 4096 + 3}
	for n := 300; n >= 0; n-- {
		lengths = append(lengths, n)
	}
	wide := maskWide
	defer func() { maskWide = wide }()
	for _, w := range []int{wide, 0} {
		maskWide = w
		matchesNaive(t, lengths)
	}
}

func matchesNaive(t *testing.T, lengths []int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	keys := [][4]byte{{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {1, 2, 3, 4}, testKey}
	for range 4 {
		keys = append(keys, [4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	buf := make([]byte, 4096+3+20)
	for _, key := range keys {
		for _, n := range lengths {
			for pos := 0; pos < 8; pos++ {
				for align := 0; align < 8; align++ {
					region := buf[:n+20] // the slice at 4+align, and bytes on both sides
					for i := range region {
						region[i] = byte(rng.IntN(256))
					}
					want := bytes.Clone(region)
					lo := 4 + align
					wiretest.Mask(key, pos, want[lo:lo+n])
					got := bytes.Clone(region)
					next := Mask(key, pos, got[lo:lo+n])
					if !bytes.Equal(got, want) {
						t.Fatalf("key % x pos %d len %d align %d:\n got % x\nwant % x", key, pos, n, align, got, want)
					}
					if next != (pos+n)%4 {
						t.Fatalf("key % x pos %d len %d: next position %d, want %d", key, pos, n, next, (pos+n)%4)
					}
				}
			}
		}
	}
}

// TestMask_Pieces checks that masking a payload piece by piece, carrying the
// returned position, equals masking it whole, as the Reader does with a frame
// that arrives in several reads.
func TestMask_Pieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 500 {
		n := rng.IntN(300)
		orig := make([]byte, n)
		for i := range orig {
			orig[i] = byte(rng.IntN(256))
		}
		key := [4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}
		want := bytes.Clone(orig)
		wiretest.Mask(key, 0, want)
		got := bytes.Clone(orig)
		pos, start := 0, 0
		for _, end := range append(randomSplits(rng, n, 1+rng.IntN(40)), n) {
			pos = Mask(key, pos, got[start:end])
			start = end
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("masked in pieces: % x, want % x", got, want)
		}
		// Masking is its own inverse.
		Mask(key, 0, got)
		if !bytes.Equal(got, orig) {
			t.Fatal("masking twice did not restore the payload")
		}
	}
}
