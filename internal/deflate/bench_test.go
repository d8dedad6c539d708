package deflate

import (
	"bytes"
	"fmt"
	"testing"
)

var benchSizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

// benchMessages returns enough distinct messages of size n to cycle through
// more than one 32 KiB window.
func benchMessages(n int) [][]byte {
	count := max(2, 128<<10/n)
	msgs := make([][]byte, count)
	for i := range msgs {
		msgs[i] = textMessage(uint64(i), n)
	}
	return msgs
}

func takeoverName(takeover bool) string {
	if takeover {
		return "takeover"
	}
	return "no_takeover"
}

func BenchmarkCompress(b *testing.B) {
	for _, sz := range benchSizes {
		for _, takeover := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/%s", sz.name, takeoverName(takeover)), func(b *testing.B) {
				msgs := benchMessages(sz.size)
				c := NewCompressor(Params{ServerNoContextTakeover: !takeover}, DefaultCompression)
				defer c.Close()
				buf := make([]byte, 0, 2*sz.size)
				total := 0
				b.ReportAllocs()
				b.SetBytes(int64(sz.size))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					buf = c.Compress(buf[:0], msgs[i%len(msgs)])
					total += len(buf)
				}
				b.ReportMetric(float64(total)/float64(b.N)/float64(sz.size), "ratio")
			})
		}
	}
}

// cyclicCompressed compresses msgs twice in a row with one Compressor and
// returns the second pass: with context takeover it refers only to the
// previous 32 KiB of the cycle, so it decodes when replayed in a loop.
func cyclicCompressed(b *testing.B, msgs [][]byte, takeover bool) [][]byte {
	c := NewCompressor(Params{ServerNoContextTakeover: !takeover}, DefaultCompression)
	defer c.Close()
	out := make([][]byte, len(msgs))
	for pass := 0; pass < 2; pass++ {
		for i, m := range msgs {
			out[i] = c.Compress(nil, m)
		}
	}
	// Check the replay decodes, three cycles.
	d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
	defer d.Close()
	for k := 0; k < 3*len(msgs); k++ {
		if k < len(msgs) && takeover {
			// Prime the history with the first pass's output.
			d.hist.write(msgs[k])
			continue
		}
		got, err := inflateMessage(d, out[k%len(msgs)], 0)
		if err != nil || !bytes.Equal(got, msgs[k%len(msgs)]) {
			b.Fatalf("replay of message %d does not decode: %v", k, err)
		}
	}
	return out
}

func BenchmarkDecompress(b *testing.B) {
	for _, sz := range benchSizes {
		for _, takeover := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/%s", sz.name, takeoverName(takeover)), func(b *testing.B) {
				msgs := benchMessages(sz.size)
				z := cyclicCompressed(b, msgs, takeover)
				d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
				defer d.Close()
				if takeover {
					for _, m := range msgs {
						d.hist.write(m)
					}
				}
				emit := func([]byte) error { return nil }
				b.ReportAllocs()
				b.SetBytes(int64(sz.size))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := d.Write(z[i%len(z)], 0, emit); err != nil {
						b.Fatal(err)
					}
					if err := d.Finish(0, emit); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	// A large message in 4 KiB frames: the streaming path.
	b.Run("2MiB/frames_4KiB", func(b *testing.B) {
		m := textMessage(77, 2<<20)
		c := NewCompressor(Params{ServerNoContextTakeover: true}, DefaultCompression)
		z := c.Compress(nil, m)
		d := NewDecompressor(Params{ClientNoContextTakeover: true})
		defer d.Close()
		emit := func([]byte) error { return nil }
		b.ReportAllocs()
		b.SetBytes(int64(len(m)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for j := 0; j < len(z); j += 4096 {
				if err := d.Write(z[j:min(j+4096, len(z))], 0, emit); err != nil {
					b.Fatal(err)
				}
			}
			if err := d.Finish(0, emit); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Whole 1 MiB text messages at BestSpeed without context takeover, as the
// server's z8x1m benchmark workload sends them.
func BenchmarkMessage1MiB(b *testing.B) {
	m := textMessage(42, 1<<20)
	p := Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
	c := NewCompressor(p, BestSpeed)
	z := c.Compress(nil, m)
	b.Run("compress", func(b *testing.B) {
		buf := make([]byte, 0, len(m)/2)
		b.ReportAllocs()
		b.SetBytes(int64(len(m)))
		for i := 0; i < b.N; i++ {
			buf = c.Compress(buf[:0], m)
		}
	})
	b.Run("decompress", func(b *testing.B) {
		d := NewDecompressor(p)
		d.SetWholeMessages(true)
		defer d.Close()
		out := make([]byte, 0, len(m))
		emit := func(q []byte) error { out = append(out, q...); return nil }
		b.ReportAllocs()
		b.SetBytes(int64(len(m)))
		for i := 0; i < b.N; i++ {
			out = out[:0]
			if err := d.Write(z, 0, emit); err != nil {
				b.Fatal(err)
			}
			if err := d.Finish(0, emit); err != nil {
				b.Fatal(err)
			}
		}
		if string(out) != string(m) {
			b.Fatal("wrong output")
		}
	})
}
