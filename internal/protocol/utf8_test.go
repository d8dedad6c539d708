package protocol

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsserver/wsserver/internal/wiretest"
)

// utf8Valid lists text that is valid UTF-8 at the boundaries RFC 3629 draws.
var utf8Valid = []struct{ name, s string }{
	{"empty", ""},
	{"ASCII", "Hello, world"},
	{"kosme", "κόσμε"},
	{"U+0000", "\x00"},
	{"U+007F", "\x7f"},
	{"U+0080", "\xc2\x80"},
	{"U+07FF", "\xdf\xbf"},
	{"U+0800", "\xe0\xa0\x80"},
	{"U+D7FF", "\xed\x9f\xbf"},
	{"U+E000", "\xee\x80\x80"},
	{"U+FFFD", "\xef\xbf\xbd"},
	{"U+FFFE noncharacter", "\xef\xbf\xbe"},
	{"U+FFFF noncharacter", "\xef\xbf\xbf"},
	{"U+10000", "\xf0\x90\x80\x80"},
	{"U+10FFFF", "\xf4\x8f\xbf\xbf"},
	{"mixed widths", "a\u00e9\u20ac\U0001D11Ez"},
	{"long mixed", strings.Repeat("Ünïcødé ∑ 𝄞 ", 30)},
}

// utf8Invalid lists text that is not valid UTF-8, after the Autobahn
// TestSuite's case 6 groups.
var utf8Invalid = []struct{ name, s string }{
	{"lone continuation 0x80", "\x80"},
	{"lone continuation 0xBF", "\xbf"},
	{"continuation after ASCII", "ab\x80cd"},
	{"two continuations", "\x80\xbf"},
	{"all continuation bytes", string(func() []byte {
		var b []byte
		for c := 0x80; c <= 0xBF; c++ {
			b = append(b, byte(c))
		}
		return b
	}())},
	{"lead bytes followed by space", "\xc0 \xc1 \xc2 \xdf "},
	{"3-byte lead then space", "\xe0 "},
	{"4-byte lead then space", "\xf0 "},
	{"0xC0 0xC1 never appear", "\xc0\x80"},
	{"overlong / in 2 bytes", "\xc0\xaf"},
	{"overlong / in 3 bytes", "\xe0\x80\xaf"},
	{"overlong / in 4 bytes", "\xf0\x80\x80\xaf"},
	{"overlong / in 5 bytes", "\xf8\x80\x80\x80\xaf"},
	{"overlong / in 6 bytes", "\xfc\x80\x80\x80\x80\xaf"},
	{"max overlong 2 bytes", "\xc1\xbf"},
	{"max overlong 3 bytes", "\xe0\x9f\xbf"},
	{"max overlong 4 bytes", "\xf0\x8f\xbf\xbf"},
	{"overlong NUL", "\xc0\x80"},
	{"surrogate U+D800", "\xed\xa0\x80"},
	{"surrogate U+DB7F", "\xed\xad\xbf"},
	{"surrogate U+DB80", "\xed\xae\x80"},
	{"surrogate U+DBFF", "\xed\xaf\xbf"},
	{"surrogate U+DC00", "\xed\xb0\x80"},
	{"surrogate U+DFFF", "\xed\xbf\xbf"},
	{"surrogate pair", "\xed\xa0\x80\xed\xb0\x80"},
	{"surrogate after kosme", "κόσμε\xed\xa0\x80edited"},
	{"U+110000", "\xf4\x90\x80\x80"},
	{"U+13FFFF", "\xf4\xbf\xbf\xbf"},
	{"lead 0xF5", "\xf5\x80\x80\x80"},
	{"lead 0xF7", "\xf7\xbf\xbf\xbf"},
	{"5-byte sequence", "\xf8\x88\x80\x80\x80"},
	{"6-byte sequence", "\xfc\x84\x80\x80\x80\x80"},
	{"0xFE", "\xfe"},
	{"0xFF", "\xff"},
	{"0xFE 0xFF", "\xfe\xfe\xff\xff"},
	{"2-byte sequence missing its last byte, then ASCII", "\xc3a"},
	{"3-byte sequence missing its last byte, then ASCII", "\xe2\x82a"},
	{"4-byte sequence missing its last byte, then ASCII", "\xf0\x9d\x84a"},
	{"too many continuations", "\xc3\xa9\x80"},
	{"invalid in the middle of kosme", "κόσμε\xf4\x90\x80\x80edited"},
	{"truncated 2-byte at end", "abc\xc3"},
	{"truncated 3-byte at end", "abc\xe2\x82"},
	{"truncated 4-byte at end, 1 byte", "abc\xf0"},
	{"truncated 4-byte at end, 3 bytes", "abc\xf0\x9d\x84"},
	{"invalid after 16 ASCII bytes", strings.Repeat("a", 16) + "\xff" + strings.Repeat("b", 16)},
}

// validateSplit runs a UTF8Validator over b cut at the given increasing
// offsets, and returns whether b is valid and, when not, the end offset of
// the piece whose Write failed (or len(b) when only Complete failed).
func validateSplit(b []byte, cuts []int) (ok bool, failedAt int) {
	var v UTF8Validator
	start := 0
	for _, end := range append(append([]int(nil), cuts...), len(b)) {
		if !v.Write(b[start:end]) {
			return false, end
		}
		start = end
	}
	if !v.Complete() {
		return false, len(b)
	}
	return true, 0
}

func TestUTF8Validator_MatchesUTF8Valid(t *testing.T) {
	var inputs [][]byte
	for _, c := range utf8Valid {
		inputs = append(inputs, []byte(c.s))
	}
	for _, c := range utf8Invalid {
		inputs = append(inputs, []byte(c.s))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{0x00, 'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff}
	for range 3000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			if rng.IntN(2) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = byte(rng.IntN(256))
			}
		}
		inputs = append(inputs, b)
	}
	for range 300 {
		// Mostly valid text with one random byte changed.
		b := []byte(strings.Repeat("aé€𝄞", 1+rng.IntN(10)))
		b[rng.IntN(len(b))] = byte(rng.IntN(256))
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		want := utf8.Valid(b)
		if ok, _ := validateSplit(b, nil); ok != want {
			t.Fatalf("%q whole: valid %v, utf8.Valid %v", b, ok, want)
		}
		for i := 0; i <= len(b); i++ {
			if ok, _ := validateSplit(b, []int{i}); ok != want {
				t.Fatalf("%q split at %d: valid %v, utf8.Valid %v", b, i, ok, want)
			}
		}
		for i := 0; i <= len(b); i++ {
			for j := i; j <= len(b); j++ {
				if ok, _ := validateSplit(b, []int{i, j}); ok != want {
					t.Fatalf("%q split at %d and %d: valid %v, utf8.Valid %v", b, i, j, ok, want)
				}
			}
		}
		every := make([]int, 0, len(b))
		for i := 1; i < len(b); i++ {
			every = append(every, i)
		}
		ok, at := validateSplit(b, every)
		if ok != want {
			t.Fatalf("%q byte by byte: valid %v, utf8.Valid %v", b, ok, want)
		}
		// Fail fast: byte by byte, Write fails at the first byte after which
		// no continuation could make the text valid.
		if !ok {
			first := firstInvalidUTF8(b)
			wantAt := first + 1
			if first == len(b) {
				wantAt = len(b) // a valid prefix: only Complete can fail
			}
			if at != wantAt {
				t.Fatalf("%q byte by byte: failed after byte %d, want %d", b, at, wantAt)
			}
		}
	}
}

func TestUTF8Validator_Pending(t *testing.T) {
	var v UTF8Validator
	for i, c := range []struct {
		in      string
		pending int
	}{{"ab", 0}, {"\xf0", 1}, {"\x9d", 2}, {"\x84", 3}, {"\x9e", 0}, {"\xe2\x82", 2}, {"\xac€", 0}} {
		if !v.Write([]byte(c.in)) {
			t.Fatalf("step %d: Write(%q) failed", i, c.in)
		}
		if v.Pending() != c.pending || v.Complete() != (c.pending == 0) {
			t.Fatalf("step %d: after %q Pending %d Complete %v, want %d", i, c.in, v.Pending(), v.Complete(), c.pending)
		}
	}
	v.Write([]byte("\xc3"))
	v.Reset()
	if !v.Complete() || !v.Write([]byte("a")) {
		t.Fatal("Reset did not forget a pending sequence")
	}
}

func TestCompleteRunes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"", 0}, {"abc", 3}, {"ab\xc3", 2}, {"ab\xc3\xa9", 4}, {"\xe2\x82", 0}, {"\xe2\x82\xac", 3},
		{"a\xf0\x9d\x84", 1}, {"a\xf0\x9d\x84\x9e", 5}, {"a\x80", 2}, {"\xff", 1}, {"a\xf8\x88", 3},
	} {
		if got := CompleteRunes([]byte(c.in)); got != c.want {
			t.Errorf("CompleteRunes(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// textFrames cuts msg into text fragments at the given offsets.
func textFrames(msg []byte, cuts []int) []wiretest.Frame {
	var fs []wiretest.Frame
	start := 0
	all := append(append([]int(nil), cuts...), len(msg))
	for i, end := range all {
		op := OpContinuation
		if i == 0 {
			op = OpText
		}
		fs = append(fs, wiretest.Frame{Fin: i == len(all)-1, Op: byte(op), Payload: msg[start:end], Key: testKey})
		start = end
	}
	return fs
}

func TestReader_RFC6455_8_1_TextMustBeUTF8(t *testing.T) {
	check := func(t *testing.T, name string, msg []byte, wantCode int) {
		t.Helper()
		want := readerCase{name: name, code: wantCode}
		if wantCode == 0 {
			want.events = []string{fmt.Sprintf("text %q", msg)}
		}
		// One frame.
		want.in = text(string(msg)).Bytes()
		want.check(t)
		// Two fragments, cut at every offset.
		for i := 0; i <= len(msg); i++ {
			want.in = concat(textFrames(msg, []int{i})...)
			want.name = fmt.Sprintf("%s cut at %d", name, i)
			want.check(t)
		}
		// One byte per fragment, with a ping in between.
		fs := textFrames(msg, every(len(msg)))
		if len(fs) > 1 {
			fs = append(fs[:1], append([]wiretest.Frame{ping("")}, fs[1:]...)...)
			if wantCode == 0 || firstInvalidUTF8(msg) >= 1 {
				want.events = append([]string{`ping ""`}, want.events...)
			}
		}
		want.in = concat(fs...)
		want.name = name + " in one-byte fragments"
		want.check(t)
	}
	for _, c := range utf8Valid {
		t.Run("valid "+c.name, func(t *testing.T) { check(t, c.name, []byte(c.s), 0) })
	}
	for _, c := range utf8Invalid {
		t.Run("invalid "+c.name, func(t *testing.T) { check(t, c.name, []byte(c.s), CloseInvalidPayload) })
	}
	// Binary messages are never checked.
	for _, c := range utf8Invalid {
		res := feedWhole(bin([]byte(c.s)).Bytes(), feedOpts{})
		if res.code != 0 {
			t.Errorf("binary %q: close code %d", c.s, res.code)
		}
	}
}

// every returns the cuts 1..n-1, which split n bytes into single bytes.
func every(n int) []int {
	var cuts []int
	for i := 1; i < n; i++ {
		cuts = append(cuts, i)
	}
	return cuts
}

// TestReader_RFC6455_8_1_FailFast checks that the Reader fails a text message
// at the first byte that makes it invalid, however the message is framed and
// however the bytes arrive: the server need not wait for the rest of the
// message (Autobahn case 6.4).
func TestReader_RFC6455_8_1_FailFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range utf8Invalid {
		msg := []byte("κόσμε " + c.s + strings.Repeat(" valid tail", 20))
		if strings.HasPrefix(c.name, "truncated") {
			msg = []byte("κόσμε " + c.s)
		}
		first := firstInvalidUTF8(msg)
		for trial := range 20 {
			var cuts []int
			switch trial {
			case 0: // one frame
			case 1:
				cuts = every(len(msg))
			default:
				cuts = randomSplits(rng, len(msg), 1+rng.IntN(10))
			}
			fs := textFrames(msg, cuts)
			// Find where the first invalid byte lands in the stream.
			var in []byte
			wantAt := -1
			pos := 0
			for _, f := range fs {
				b := f.Bytes()
				hdr := len(b) - len(f.Payload)
				if wantAt < 0 && first < len(msg) && first < pos+len(f.Payload) {
					wantAt = len(in) + hdr + (first - pos) + 1
				}
				in = append(in, b...)
				pos += len(f.Payload)
			}
			if wantAt < 0 {
				wantAt = len(in) // truncated: invalid once the message ends
			}
			res := feedBytes(append(in, text("next").Bytes()...), feedOpts{})
			if res.code != CloseInvalidPayload || res.errAt != wantAt {
				t.Fatalf("%s in %d fragments, byte by byte: code %d after byte %d, want %d after byte %d of %d",
					c.name, len(fs), res.code, res.errAt, CloseInvalidPayload, wantAt, len(in))
			}
			if !bytes.HasPrefix(msg, res.data) || len(res.data) > first {
				t.Fatalf("%s: delivered %q before failing, beyond the first invalid byte %d", c.name, res.data, first)
			}
		}
	}
}
