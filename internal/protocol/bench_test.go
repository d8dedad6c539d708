package protocol

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wsserver/wsserver/internal/wiretest"
)

func BenchmarkMask(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"16B", 16}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			buf := make([]byte, size.n)
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			for b.Loop() {
				Mask(testKey, 1, buf)
			}
		})
	}
}

func BenchmarkUTF8(b *testing.B) {
	ascii := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 1500))[:64<<10]
	mixed := []byte(strings.Repeat("Grüße, κόσμε, 世界, 𝄞 and some ASCII text. ", 1200))
	mixed = mixed[:CompleteRunes(mixed[:64<<10])]
	for _, in := range []struct {
		name string
		b    []byte
	}{{"ASCII", ascii}, {"mixed", mixed}} {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.b)))
			var v UTF8Validator
			for b.Loop() {
				v.Reset()
				if !v.Write(in.b) || !v.Complete() {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// nopHandler accepts everything; the benchmarks measure the Reader alone.
type nopHandler struct{}

func (nopHandler) OnData(op Opcode, p []byte, fin bool) error { return nil }
func (nopHandler) OnPing(p []byte) error                      { return nil }
func (nopHandler) OnPong(p []byte) error                      { return nil }
func (nopHandler) OnClose(code int, reason []byte) error      { return nil }

// BenchmarkReaderFeed feeds a batch of client messages per iteration, as one
// socket read would bring them. The frames use an all-zero masking key, so
// the in-place unmasking leaves the input as it was and the same bytes can
// be fed again; Mask does the same work whatever the key.
func BenchmarkReaderFeed(b *testing.B) {
	for _, c := range []struct {
		name  string
		op    Opcode
		size  int
		count int
	}{
		{"text-16B", OpText, 16, 256},
		{"binary-16B", OpBinary, 16, 256},
		{"text-1KiB", OpText, 1 << 10, 16},
		{"binary-1KiB", OpBinary, 1 << 10, 16},
		{"text-64KiB", OpText, 64 << 10, 1},
		{"binary-64KiB", OpBinary, 64 << 10, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			payload := bytes.Repeat([]byte("ab€"), c.size)[:c.size]
			payload = payload[:CompleteRunes(payload)]
			var in []byte
			for range c.count {
				in = append(in, wiretest.Frame{Fin: true, Op: byte(c.op), Payload: payload}.Bytes()...)
			}
			rd := &Reader{MaxMessageSize: 1 << 20}
			h := nopHandler{}
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if err := rd.Feed(in, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	for _, c := range []struct {
		name     string
		size     int
		maxFrame int
	}{{"16B", 16, 0}, {"1KiB", 1 << 10, 0}, {"64KiB", 64 << 10, 0}, {"64KiB-frames-16KiB", 64 << 10, 16 << 10}} {
		b.Run(c.name, func(b *testing.B) {
			payload := make([]byte, c.size)
			dst := make([]byte, 0, c.size+64)
			b.ReportAllocs()
			b.SetBytes(int64(c.size))
			for b.Loop() {
				dst = AppendMessage(dst[:0], OpBinary, false, payload, c.maxFrame, true, true)
			}
		})
	}
}
