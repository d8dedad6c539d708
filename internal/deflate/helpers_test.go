package deflate

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// inflateFrames feeds frames as one message to d and returns the output.
func inflateFrames(d *Decompressor, frames [][]byte, limit int64) ([]byte, error) {
	var out []byte
	emit := func(p []byte) error {
		out = append(out, p...)
		return nil
	}
	for _, f := range frames {
		if err := d.Write(f, limit, emit); err != nil {
			return out, err
		}
	}
	err := d.Finish(limit, emit)
	return out, err
}

// inflateMessage feeds msg as one frame.
func inflateMessage(d *Decompressor, msg []byte, limit int64) ([]byte, error) {
	return inflateFrames(d, [][]byte{msg}, limit)
}

// splitRandom cuts b into pieces of random sizes up to maxPiece (some empty).
func splitRandom(rng *rand.Rand, b []byte, maxPiece int) [][]byte {
	var frames [][]byte
	for len(b) > 0 {
		n := rng.IntN(maxPiece + 1)
		n = min(n, len(b))
		frames = append(frames, b[:n])
		b = b[n:]
	}
	return frames
}

// stdInflate decodes compressed messages with the standard library's
// compress/flate, an independent decoder: with context takeover the messages,
// each followed by the 0x00 0x00 0xff 0xff tail, form one DEFLATE stream
// (RFC 7692 section 7.2.3.2); without it each message is its own stream.
func stdInflate(t *testing.T, takeover bool, compressed [][]byte, sizes []int) [][]byte {
	t.Helper()
	var out [][]byte
	if takeover {
		var stream []byte
		for _, c := range compressed {
			stream = append(stream, c...)
			stream = append(stream, syncTail[:]...)
		}
		r := stdflate.NewReader(bytes.NewReader(stream))
		for i, n := range sizes {
			buf := make([]byte, n)
			if _, err := io.ReadFull(r, buf); err != nil {
				t.Fatalf("stdlib flate: message %d: %v", i, err)
			}
			out = append(out, buf)
		}
		return out
	}
	for i, c := range compressed {
		r := stdflate.NewReader(bytes.NewReader(append(append([]byte(nil), c...), syncTail[:]...)))
		buf := make([]byte, sizes[i])
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("stdlib flate: message %d: %v", i, err)
		}
		out = append(out, buf)
	}
	return out
}

// textMessage returns a deterministic JSON-like message of about n bytes,
// compressible like typical WebSocket traffic.
func textMessage(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	words := []string{"id", "name", "value", "status", "ok", "error", "items", "price", "user", "time", "true", "false", "null"}
	var b bytes.Buffer
	b.WriteByte('[')
	for b.Len() < n {
		fmt.Fprintf(&b, `{"%s":%d,"%s":"%s-%x"},`, words[rng.IntN(len(words))], rng.IntN(100000),
			words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.Uint32())
	}
	return b.Bytes()[:n]
}

// randomBytes returns n incompressible bytes.
func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 11))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
