package protocol

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/wsserver/wsserver/internal/wiretest"
)

// FuzzReadFrame feeds arbitrary bytes to a Reader, whole and in splits chosen
// by seed, and requires that it never panics and that every split gives the
// handler the same messages, control frames and error. The low bits of seed
// also pick the Reader's options: permessage-deflate and a message limit.
func FuzzReadFrame(f *testing.F) {
	f.Add(text("hello").Bytes(), uint64(0))
	f.Add(concat(frag(false, OpText, "he"), ping("p"), frag(true, OpContinuation, "llo")), uint64(1))
	f.Add(concat(bin(bytes.Repeat([]byte{1}, 200)), closeFrame(wiretest.ClosePayload(1000, "bye"))), uint64(2))
	f.Add(wiretest.Frame{Fin: true, Op: byte(OpText), RSV: 0x40, Key: testKey, Payload: deflateMessage(f, []byte("hello hello"))}.Bytes(), uint64(3))
	f.Add(text("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80").Bytes(), uint64(4))
	f.Add(wiretest.Frame{Fin: true, Op: byte(OpBinary), Key: testKey, LenForm: 8, RawLen: 1 << 63}.Bytes(), uint64(5))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		o := feedOpts{inflater: seed&1 != 0}
		if seed&2 != 0 {
			o.maxSize = 64
		}
		whole := feedWhole(in, o)
		rng := rand.New(rand.NewPCG(seed, uint64(len(in))))
		split := feed(in, randomSplits(rng, len(in), 1+rng.IntN(16)), o)
		if !split.same(whole) {
			t.Fatalf("split: %v\nwhole: %v", split, whole)
		}
		if len(in) <= 4096 {
			if bytewise := feedBytes(in, o); !bytewise.same(whole) {
				t.Fatalf("byte by byte: %v\nwhole: %v", bytewise, whole)
			}
		}
		for _, ev := range whole.events {
			if len(ev) > 12 && ev[:12] == "INVALID-text" {
				t.Fatalf("a text message with invalid UTF-8 was delivered: %s", ev)
			}
		}
	})
}

// FuzzUTF8Validator checks UTF8Validator against utf8.Valid for arbitrary
// input, whole, cut at every offset, and byte by byte, and that byte by byte
// it fails at the first byte no continuation could make valid.
func FuzzUTF8Validator(f *testing.F) {
	for _, c := range utf8Valid {
		f.Add([]byte(c.s))
	}
	for _, c := range utf8Invalid {
		f.Add([]byte(c.s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 512 {
			b = b[:512]
		}
		want := utf8.Valid(b)
		if ok, _ := validateSplit(b, nil); ok != want {
			t.Fatalf("whole: valid %v, utf8.Valid %v", ok, want)
		}
		for i := 0; i <= len(b); i++ {
			if ok, _ := validateSplit(b, []int{i}); ok != want {
				t.Fatalf("cut at %d: valid %v, utf8.Valid %v", i, ok, want)
			}
		}
		ok, at := validateSplit(b, every(len(b)))
		if ok != want {
			t.Fatalf("byte by byte: valid %v, utf8.Valid %v", ok, want)
		}
		if !ok {
			first := firstInvalidUTF8(b)
			wantAt := min(first+1, len(b))
			if at != wantAt {
				t.Fatalf("byte by byte: failed after byte %d, want %d", at, wantAt)
			}
		}
	})
}
