package deflate

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// stdCompress compresses m as one permessage-deflate message with the
// standard library (sync flush, tail removed).
func stdCompress(t testing.TB, m []byte, level int) []byte {
	var buf bytes.Buffer
	w, err := stdflate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(m)
	w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), syncTail[:])
}

func TestDecompress_RFC7692_7_2_2_StreamsBeforeFinish(t *testing.T) {
	// A large message fed in 1 KiB frames is delivered while it arrives,
	// and the compressed data held stays far below the message size.
	for _, takeover := range []bool{true, false} {
		m := textMessage(21, 2<<20)
		z := stdCompress(t, m, stdflate.BestSpeed)
		d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
		var out []byte
		emit := func(p []byte) error { out = append(out, p...); return nil }
		maxHeld := 0
		for i := 0; i < len(z); i += 1024 {
			if err := d.Write(z[i:min(i+1024, len(z))], 0, emit); err != nil {
				t.Fatal(err)
			}
			maxHeld = max(maxHeld, len(d.in))
		}
		beforeFinish := len(out)
		if err := d.Finish(0, emit); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, m) {
			t.Fatalf("takeover %v: output differs", takeover)
		}
		if beforeFinish < len(m)*3/4 {
			t.Errorf("takeover %v: only %d of %d bytes delivered before Finish", takeover, beforeFinish, len(m))
		}
		if maxHeld > 256<<10 {
			t.Errorf("takeover %v: held up to %d compressed bytes of %d", takeover, maxHeld, len(z))
		}
		t.Logf("takeover %v: %d compressed bytes, at most %d held, %d of %d delivered before Finish",
			takeover, len(z), maxHeld, beforeFinish, len(m))
		// The next message still decodes (history and state were kept right).
		if got, err := inflateMessage(d, stdCompress(t, m[:5000], 5), 0); err != nil || !bytes.Equal(got, m[:5000]) {
			t.Fatalf("takeover %v: next message: %v", takeover, err)
		}
		d.Close()
	}
}

func TestDecompress_RFC7692_7_2_2_ManyTinyBlocks(t *testing.T) {
	// 200,000 empty stored blocks (1 MB) then "Hello": streaming must stay
	// linear, not copy a window per block nor re-inflate from the start.
	var z []byte
	for i := 0; i < 200_000; i++ {
		z = append(z, 0x00, 0x00, 0x00, 0xff, 0xff)
	}
	z = append(z, rfcHello...)
	start := time.Now()
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	got, err := inflateFrames(d, splitRandom(rng, z, 2000), 1000)
	if err != nil || string(got) != "Hello" {
		t.Fatalf("got %q, %v", got, err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v", el)
	}
}

// bitWriter writes DEFLATE bits, least significant first.
type bitWriter struct {
	out  []byte
	bits uint64
	n    uint
}

func (w *bitWriter) write(v uint64, n uint) {
	w.bits |= v << w.n
	w.n += n
	for w.n >= 8 {
		w.out = append(w.out, byte(w.bits))
		w.bits >>= 8
		w.n -= 8
	}
}

// writeCode writes a Huffman code, most significant bit first.
func (w *bitWriter) writeCode(code uint64, n uint) {
	var rev uint64
	for i := uint(0); i < n; i++ {
		rev |= (code >> i & 1) << (n - 1 - i)
	}
	w.write(rev, n)
}

// fixedHuffmanBomb returns a message that is one fixed-Huffman block: a zero
// byte, then matches of length 258 at distance 1, each 13 bits for 258
// bytes of output, then end of block and a sync flush without its tail.
func fixedHuffmanBomb(matches int) []byte {
	var w bitWriter
	w.write(0, 1)        // BFINAL 0
	w.write(1, 2)        // BTYPE 01, fixed Huffman codes
	w.writeCode(0x30, 8) // literal 0
	for i := 0; i < matches; i++ {
		w.writeCode(0xc5, 8) // length code 285: 258 bytes
		w.writeCode(0, 5)    // distance code 0: distance 1
	}
	w.writeCode(0, 7) // end of block (256)
	w.write(0, 3)     // empty stored block header
	w.write(0, 7)     // pad to a byte (at most 7 bits are flushed)
	return w.out
}

func TestDecompress_RFC7692_7_2_2_BombStoppedAtLimit(t *testing.T) {
	bombs := map[string][]byte{
		"stdlib zeros":        stdCompress(t, make([]byte, 8<<20), stdflate.BestSpeed),
		"fixed Huffman block": fixedHuffmanBomb(400_000), // 103 MB from 650 KB
	}
	const limit = 1 << 20
	for name, z := range bombs {
		for _, frame := range []int{len(z), 1000, 7} {
			for _, takeover := range []bool{true, false} {
				d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
				total := 0
				emit := func(p []byte) error { total += len(p); return nil }
				var err error
				for i := 0; i < len(z) && err == nil; i += frame {
					err = d.Write(z[i:min(i+frame, len(z))], limit, emit)
				}
				if err == nil {
					err = d.Finish(limit, emit)
				}
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("%s, frame %d: got %v, want ErrTooLarge", name, frame, err)
				}
				if total > limit {
					t.Fatalf("%s, frame %d: %d bytes emitted past the limit %d", name, frame, total, limit)
				}
				// The error is sticky, and nothing more is inflated.
				if err := d.Write(z, limit, emit); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("after the limit Write returned %v", err)
				}
				if err := d.Finish(limit, emit); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("after the limit Finish returned %v", err)
				}
				d.Close()
			}
		}
	}
	// The hand-made block is valid: without a limit it inflates fully.
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	got, err := inflateMessage(d, fixedHuffmanBomb(1000), 0)
	if err != nil || len(got) != 1+258*1000 || bytes.Count(got, []byte{0}) != len(got) {
		t.Fatalf("fixed Huffman bomb: %d bytes, %v", len(got), err)
	}
}

func TestDecompress_RFC7692_7_2_2_LimitIsPerMessage(t *testing.T) {
	m := textMessage(5, 10_000)
	z := stdCompress(t, m, 6)
	d := NewDecompressor(Params{ClientNoContextTakeover: true})
	defer d.Close()
	for i := 0; i < 5; i++ {
		if got, err := inflateMessage(d, z, int64(len(m))); err != nil || !bytes.Equal(got, m) {
			t.Fatalf("message %d exactly at the limit: %v", i, err)
		}
	}
	if _, err := inflateMessage(d, z, int64(len(m)-1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("one byte over the limit: got %v, want ErrTooLarge", err)
	}
}

func TestDecompress_RFC7692_7_2_2_CompressedSizeBoundedByLimit(t *testing.T) {
	// Incompressible data in stored blocks, streamed in frames: the output
	// limit stops it, and the compressed bytes held never exceed the bound.
	m := randomBytes(8, 1<<20)
	z := stdCompress(t, m, stdflate.NoCompression)
	const limit = 100_000
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	emit := func([]byte) error { return nil }
	var err error
	for i := 0; i < len(z) && err == nil; i += 4096 {
		err = d.Write(z[i:min(i+4096, len(z))], limit, emit)
		if int64(len(d.in)) > pendingBound(limit) {
			t.Fatalf("holding %d compressed bytes, bound %d", len(d.in), pendingBound(limit))
		}
	}
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestDecompress_RFC7692_7_2_2_Corrupt(t *testing.T) {
	valid := stdCompress(t, textMessage(3, 3000), 6)
	tests := []struct {
		name   string
		frames [][]byte
	}{
		{"reserved block type 11", [][]byte{{0x07, 0x00}}},
		{"stored block with bad NLEN", [][]byte{{0x00, 0x05, 0x00, 0xfa, 0xfe, 'H', 'e', 'l', 'l', 'o', 0x00}}},
		{"stored block missing its data", [][]byte{{0x00, 0x0a, 0x00, 0xf5, 0xff, 'H'}}},
		{"truncated inside a Huffman block", [][]byte{valid[:len(valid)/2]}},
		{"sync flush tail not removed, then garbage", [][]byte{append(append([]byte(nil), rfcHello...), 0x00, 0x00, 0xff, 0xff, 0xff)}},
		{"garbage", [][]byte{randomBytes(4, 100)}},
		{"back-reference before the start", [][]byte{rfcHelloAgain}},
		{"large garbage streamed", splitRandom(rand.New(rand.NewPCG(3, 3)), randomBytes(9, 200_000), 5000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecompressor(Params{ClientNoContextTakeover: true})
			defer d.Close()
			_, err := inflateFrames(d, tt.frames, 1<<20)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			if err.Error() == ErrCorrupt.Error() {
				t.Errorf("error %q does not say what was wrong", err)
			}
			// Sticky.
			if err2 := d.Write(rfcHello, 0, func([]byte) error { return nil }); !errors.Is(err2, ErrCorrupt) {
				t.Fatalf("Write after corruption: %v", err2)
			}
		})
	}
}

func TestDecompress_RFC7692_7_2_2_EmitError(t *testing.T) {
	stop := errors.New("consumer gone")
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	d.Write(rfcHello, 0, nil)
	if err := d.Finish(0, func([]byte) error { return stop }); err != stop {
		t.Fatalf("Finish returned %v, want the emit error", err)
	}
	d.Close()
	if err := d.Write(rfcHello, 0, nil); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

func TestDecompress_RFC7692_7_2_2_TrailingDataAfterFinalBlockIgnored(t *testing.T) {
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	big := stdCompress(t, textMessage(1, 100_000), 1)
	// A BFINAL message followed by more frames: they are ignored.
	frames := [][]byte{rfcHelloFinal, big, big}
	got, err := inflateFrames(d, frames, 0)
	if err != nil || string(got) != "Hello" {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
}

func TestDecompressor_RFC7692_7_2_2_NoAllocsSteadyState(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	m := textMessage(6, 1024)
	for _, takeover := range []bool{true, false} {
		c := NewCompressor(Params{ServerNoContextTakeover: !takeover}, DefaultCompression)
		d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
		emit := func([]byte) error { return nil }
		buf := make([]byte, 0, 4096)
		var z []byte
		allocs := testing.AllocsPerRun(200, func() {
			z = c.Compress(buf[:0], m)
			if err := d.Write(z[:len(z)/2], 0, emit); err != nil {
				t.Fatal(err)
			}
			if err := d.Write(z[len(z)/2:], 0, emit); err != nil {
				t.Fatal(err)
			}
			if err := d.Finish(0, emit); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 0 {
			t.Errorf("takeover %v: %.1f allocations per 1 KiB message (%d compressed), want 0", takeover, allocs, len(z))
		}
		c.Close()
		d.Close()
	}
}

func TestDecompress_RFC7692_7_2_3_2_HistoryAfterStreamedMessage(t *testing.T) {
	// A large message inflated ahead of Finish (resume points, re-inflated
	// parts skipped) must leave exactly its last 32 KiB as the window: the
	// next message is made of back-references into it.
	big := textMessage(31, 300_000)
	next := append(append([]byte(nil), big[len(big)-20_000:len(big)-10_000]...), big[len(big)-3000:]...)
	var buf bytes.Buffer
	w, _ := stdflate.NewWriter(&buf, 6)
	compress := func(m []byte) []byte {
		buf.Reset()
		w.Write(m)
		w.Flush()
		return append([]byte(nil), bytes.TrimSuffix(buf.Bytes(), syncTail[:])...)
	}
	zBig, zNext := compress(big), compress(next)
	if len(zNext) > len(next)/20 {
		t.Fatalf("next message compressed to %d bytes: not made of back-references", len(zNext))
	}
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	rng := rand.New(rand.NewPCG(4, 4))
	if got, err := inflateFrames(d, splitRandom(rng, zBig, 3000), 0); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("big message: %v", err)
	}
	if d.hist.size != windowSize || !bytes.Equal(d.hist.appendTo(nil), big[len(big)-windowSize:]) {
		t.Fatal("history is not the last 32 KiB of the message")
	}
	if got, err := inflateFrames(d, splitRandom(rng, zNext, 100), 0); err != nil || !bytes.Equal(got, next) {
		t.Fatalf("next message: %v", err)
	}
}

// TestSetWholeMessages_InflatesInFinish checks the whole-message mode: Write
// emits nothing, Finish emits the message, and the result equals streaming's.
func TestSetWholeMessages_InflatesInFinish(t *testing.T) {
	msg := bytes.Repeat([]byte("whole message mode of the decompressor "), 8000)
	c := NewCompressor(Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, BestSpeed)
	payload := c.Compress(nil, msg)
	c.Close()
	d := NewDecompressor(Params{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15})
	defer d.Close()
	d.SetWholeMessages(true)
	var out []byte
	emit := func(p []byte) error { out = append(out, p...); return nil }
	for len(payload) > 0 {
		n := min(len(payload), 4096)
		if err := d.Write(payload[:n], 0, emit); err != nil {
			t.Fatal(err)
		}
		payload = payload[n:]
		if len(out) != 0 {
			t.Fatalf("Write emitted %d bytes in whole-message mode", len(out))
		}
	}
	if err := d.Finish(0, emit); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, msg) {
		t.Fatalf("got %d bytes, want %d", len(out), len(msg))
	}
}
