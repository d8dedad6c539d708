package deflate

import (
	"bytes"
	stdflate "compress/flate"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/flate"
)

// refInflate decodes one message (tail removed) with klauspost's inflater
// over window, the reference for the whole-message decoder.
func refInflate(z, window []byte) ([]byte, error) {
	r := flate.NewReaderDict(bytes.NewReader(append(append([]byte(nil), z...), finishTail...)), window)
	return io.ReadAll(r)
}

// wholeInflate decodes one message with the whole-message decoder.
func wholeInflate(z, window []byte) ([]byte, error) {
	d := &Decompressor{}
	d.sink.d = d
	var out []byte
	d.sink.emit = func(p []byte) error { out = append(out, p...); return nil }
	f := getWholeInflater()
	defer putWholeInflater(f)
	err := f.inflate(append(append([]byte(nil), z...), finishTail...), window, &d.sink)
	return out, err
}

func mixedMessage(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		k := rng.IntN(5000) + 1
		switch rng.IntN(5) {
		case 0:
			b = append(b, textMessage(rng.Uint64(), k)...)
		case 1:
			b = append(b, randomBytes(rng.Uint64(), k)...)
		case 2:
			b = append(b, bytes.Repeat([]byte{byte(rng.IntN(256))}, k)...)
		case 3:
			if len(b) > 0 {
				off := rng.IntN(len(b))
				b = append(b, b[off:min(off+k, len(b))]...)
			}
		default:
			p := randomBytes(rng.Uint64(), rng.IntN(7)+1)
			for range k / len(p) {
				b = append(b, p...)
			}
		}
	}
	return b[:n]
}

// TestWholeInflater_RFC1951_MatchesReferenceDecoder checks the whole-message
// decoder against klauspost's inflater on DEFLATE streams (RFC 1951) of
// every block type, from two encoders at every level, with and without a
// preset window (RFC 7692 context takeover), and on damaged copies of them:
// both must agree on validity and output.
func TestWholeInflater_RFC1951_MatchesReferenceDecoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 100, 5000, 40_000, 300_000, 1 << 20}
	for _, n := range sizes {
		for _, level := range []int{-2, 0, 1, 2, 5, 9} {
			m := mixedMessage(rng, n)
			if level == 1 && n == 1<<20 {
				m = textMessage(9, n)
			}
			var window []byte
			if rng.IntN(2) == 0 {
				window = mixedMessage(rng, rng.IntN(windowSize)+1)
			}
			for _, std := range []bool{false, true} {
				var buf bytes.Buffer
				if std {
					w, _ := stdflate.NewWriterDict(&buf, level, window)
					w.Write(m)
					w.Flush()
				} else {
					w, _ := flate.NewWriterDict(&buf, level, window)
					w.Write(m)
					w.Flush()
				}
				z := buf.Bytes()[:buf.Len()-4]
				got, err := wholeInflate(z, window)
				if err != nil || !bytes.Equal(got, m) {
					t.Fatalf("size %d level %d std %v: %d bytes, %v", n, level, std, len(got), err)
				}
				// Damaged copies: the decoder agrees with the reference
				// on whether they are valid, and on the output.
				for k := 0; k < 30 && len(z) > 0; k++ {
					bad := append([]byte(nil), z...)
					switch k % 3 {
					case 0:
						bad[rng.IntN(len(bad))] ^= 1 << rng.IntN(8)
					case 1:
						bad = bad[:rng.IntN(len(bad))]
					default:
						i := rng.IntN(len(bad))
						copy(bad[i:], randomBytes(rng.Uint64(), 8))
					}
					want, werr := refInflate(bad, window)
					got, gerr := wholeInflate(bad, window)
					if (werr == nil) != (gerr == nil) || (werr == nil && !bytes.Equal(got, want)) {
						t.Fatalf("size %d level %d damage %d: reference %d bytes %v, got %d bytes %v", n, level, k, len(want), werr, len(got), gerr)
					}
				}
			}
		}
	}
}

// FuzzWholeInflater checks the whole-message decoder against klauspost's
// inflater on arbitrary input, with and without a preset window: both must
// agree on validity and, for valid input, on the output.
func FuzzWholeInflater(f *testing.F) {
	for _, seed := range [][]byte{rfcHello, rfcHelloStored, rfcHelloFinal, rfcHelloTwoBlocks, {0x00}, {}, {0x07}} {
		f.Add(seed, false)
	}
	f.Add(textMessage(1, 300), true)
	f.Fuzz(func(t *testing.T, z []byte, withWindow bool) {
		var window []byte
		if withWindow {
			window = textMessage(2, 1000)
		}
		want, werr := refInflate(z, window)
		got, gerr := wholeInflate(z, window)
		if (werr == nil) != (gerr == nil) || werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("reference: %d bytes, %v; whole-message decoder: %d bytes, %v", len(want), werr, len(got), gerr)
		}
	})
}
