package deflate

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"math/rand/v2"
	"testing"

	kflate "github.com/klauspost/compress/flate"
)

// messageSet returns a mix of messages: tiny, text, repeated, incompressible,
// and ones larger than the 32 KiB window and the streaming threshold.
func messageSet() [][]byte {
	return [][]byte{
		[]byte("Hello"),
		textMessage(1, 1000),
		{},
		textMessage(2, 1000), // shares vocabulary with the first: back-references across messages
		bytes.Repeat([]byte("abc"), 20000),
		randomBytes(3, 5000),
		textMessage(4, 200_000),
		[]byte("Hello"),
		randomBytes(5, 70_000),
		textMessage(1, 1000), // identical to an earlier message
	}
}

func TestRoundTrip_RFC7692_7_2_ContextTakeover(t *testing.T) {
	msgs := messageSet()
	for _, level := range []int{HuffmanOnly, NoCompression, BestSpeed, DefaultCompression, BestCompression} {
		for _, takeover := range []bool{true, false} {
			t.Run(fmt.Sprintf("level=%d/takeover=%v", level, takeover), func(t *testing.T) {
				p := DefaultParams()
				p.ServerNoContextTakeover = !takeover
				p.ClientNoContextTakeover = !takeover
				c := NewCompressor(p, level)
				defer c.Close()
				d := NewDecompressor(p)
				defer d.Close()
				rng := rand.New(rand.NewPCG(uint64(level+10), 1))
				var compressed [][]byte
				var sizes []int
				for round := 0; round < 2; round++ {
					for i, m := range msgs {
						z := c.Compress(nil, m)
						compressed = append(compressed, z)
						sizes = append(sizes, len(m))
						maxPiece := []int{len(z), 1, 7, 1000, 40_000}[(i+round)%5]
						if maxPiece < 1000 && len(z) > 20_000 {
							maxPiece = 1000 // keep the test quick
						}
						got, err := inflateFrames(d, splitRandom(rng, z, max(maxPiece, 1)), 0)
						if err != nil {
							t.Fatalf("round %d message %d (%d bytes, %d compressed): %v", round, i, len(m), len(z), err)
						}
						if !bytes.Equal(got, m) {
							t.Fatalf("round %d message %d: round trip mismatch (%d bytes, want %d)", round, i, len(got), len(m))
						}
					}
				}
				// An independent decoder agrees.
				got := stdInflate(t, takeover, compressed, sizes)
				for i := range got {
					if !bytes.Equal(got[i], msgs[i%len(msgs)]) {
						t.Fatalf("stdlib flate decoded message %d differently", i)
					}
				}
			})
		}
	}
}

func TestRoundTrip_RFC7692_7_2_1_ContextTakeoverShrinksRepeats(t *testing.T) {
	msg := textMessage(9, 2000)
	sizes := map[bool]int{}
	for _, takeover := range []bool{true, false} {
		c := NewCompressor(Params{ServerNoContextTakeover: !takeover}, DefaultCompression)
		c.Compress(nil, msg)
		sizes[takeover] = len(c.Compress(nil, msg))
		c.Close()
	}
	if sizes[true] >= sizes[false]/4 {
		t.Fatalf("repeated message with context takeover is %d bytes, without %d: the window is not shared", sizes[true], sizes[false])
	}
}

func TestInterop_RFC7692_7_2_2_StdlibCompressed(t *testing.T) {
	// Messages compressed by the standard library's compress/flate, with
	// one writer for the whole connection (context takeover) and a sync
	// flush per message, tail removed (RFC 7692 section 7.2.1).
	msgs := messageSet()
	for _, level := range []int{stdflate.HuffmanOnly, stdflate.NoCompression, stdflate.BestSpeed, stdflate.BestCompression} {
		for _, takeover := range []bool{true, false} {
			var buf bytes.Buffer
			w, err := stdflate.NewWriter(&buf, level)
			if err != nil {
				t.Fatal(err)
			}
			d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
			rng := rand.New(rand.NewPCG(uint64(level+100), 2))
			for i, m := range msgs {
				buf.Reset()
				if !takeover {
					w.Reset(&buf)
				}
				w.Write(m)
				w.Flush()
				z := bytes.TrimSuffix(buf.Bytes(), syncTail[:])
				got, err := inflateFrames(d, splitRandom(rng, z, 1+rng.IntN(3000)), 0)
				if err != nil || !bytes.Equal(got, m) {
					t.Fatalf("level %d takeover %v message %d: %v (got %d bytes, want %d)", level, takeover, i, err, len(got), len(m))
				}
			}
			d.Close()
		}
	}
}

func TestCompress_RFC7692_7_1_2_1_SmallServerWindowIsHuffmanOnly(t *testing.T) {
	msgs := messageSet()
	for _, bits := range []int{8, 9, 12, 14} {
		for _, takeover := range []bool{true, false} {
			p := Params{ServerNoContextTakeover: !takeover, ServerMaxWindowBits: bits, ClientMaxWindowBits: 15}
			c := NewCompressor(p, BestCompression)
			if c.level != HuffmanOnly || c.takeover {
				t.Fatalf("bits %d: level %d, takeover %v; want Huffman-only without held state", bits, c.level, c.takeover)
			}
			var compressed [][]byte
			var sizes []int
			for _, m := range msgs {
				z := c.Compress(nil, m)
				compressed = append(compressed, z)
				sizes = append(sizes, len(m))
				// Huffman-only coding has no back-references: a highly
				// repetitive message cannot shrink below about one bit
				// per byte, where LZ77 would make it tiny.
				if bytes.Equal(m, msgs[4]) && len(z) < len(m)/8 {
					t.Fatalf("bits %d: %d repetitive bytes compressed to %d, which needs back-references", bits, len(m), len(z))
				}
			}
			got := stdInflate(t, takeover, compressed, sizes)
			d := NewDecompressor(p)
			for i := range msgs {
				if !bytes.Equal(got[i], msgs[i]) {
					t.Fatalf("bits %d: stdlib decoded message %d differently", bits, i)
				}
				out, err := inflateMessage(d, compressed[i], 0)
				if err != nil || !bytes.Equal(out, msgs[i]) {
					t.Fatalf("bits %d: message %d round trip: %v", bits, i, err)
				}
			}
			c.Close()
			d.Close()
		}
	}
	// NoCompression stays stored blocks, also valid for any window.
	c := NewCompressor(Params{ServerMaxWindowBits: 8}, NoCompression)
	if c.level != NoCompression {
		t.Fatalf("NoCompression with a small window became level %d", c.level)
	}
}

func TestDecompress_RFC7692_7_1_2_2_SmallClientWindow(t *testing.T) {
	// A client limited to a 2^9 window compresses with back-references of
	// at most 512 bytes, across messages too; a history of 512 bytes
	// must decode it.
	const bits = 9
	var buf bytes.Buffer
	w, err := kflate.NewWriterWindow(&buf, 1<<bits)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecompressor(Params{ClientMaxWindowBits: bits})
	defer d.Close()
	if d.hist.size != 1<<bits {
		t.Fatalf("history size %d, want %d", d.hist.size, 1<<bits)
	}
	line := textMessage(3, 300)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < 50; i++ {
		m := append(append([]byte(nil), line...), textMessage(uint64(i), rng.IntN(600))...)
		buf.Reset()
		w.Write(m)
		w.Flush()
		z := bytes.TrimSuffix(buf.Bytes(), syncTail[:])
		got, err := inflateFrames(d, splitRandom(rng, z, 50), 0)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	// 8 is raised to 9, for zlib's sake.
	if d8 := NewDecompressor(Params{ClientMaxWindowBits: 8}); d8.hist.size != 512 {
		t.Fatalf("history for 8 bits is %d bytes, want 512", d8.hist.size)
	}
	if d0 := NewDecompressor(Params{}); d0.hist.size != windowSize {
		t.Fatalf("history for unset bits is %d bytes, want %d", d0.hist.size, windowSize)
	}
}
