package protocol

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsserver/wsserver/internal/wiretest"
)

// concat joins the encoded frames.
func concat(frames ...wiretest.Frame) []byte {
	var out []byte
	for _, f := range frames {
		out = append(out, f.Bytes()...)
	}
	return out
}

// Shorthands for the frames most tests send, with a fixed non-trivial key.
var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func text(s string) wiretest.Frame {
	return wiretest.Frame{Fin: true, Op: byte(OpText), Payload: []byte(s), Key: testKey}
}
func bin(b []byte) wiretest.Frame {
	return wiretest.Frame{Fin: true, Op: byte(OpBinary), Payload: b, Key: testKey}
}
func ping(s string) wiretest.Frame {
	return wiretest.Frame{Fin: true, Op: byte(OpPing), Payload: []byte(s), Key: testKey}
}
func pong(s string) wiretest.Frame {
	return wiretest.Frame{Fin: true, Op: byte(OpPong), Payload: []byte(s), Key: testKey}
}
func closeFrame(p []byte) wiretest.Frame {
	return wiretest.Frame{Fin: true, Op: byte(OpClose), Payload: p, Key: testKey}
}
func frag(fin bool, op Opcode, s string) wiretest.Frame {
	return wiretest.Frame{Fin: fin, Op: byte(op), Payload: []byte(s), Key: testKey}
}

// recorder is a Handler that writes down what it is told, joining the pieces
// of each data message so that results do not depend on how bytes were split.
type recorder struct {
	events  []string
	partial []byte // data of the message in progress
	pieces  int    // OnData calls so far
	// failOn makes the handler return an error for that event kind.
	failOn string
}

var errHandler = errors.New("handler refused")

func (r *recorder) OnData(op Opcode, p []byte, fin bool) error {
	r.pieces++
	r.partial = append(r.partial, p...)
	if !fin {
		return nil
	}
	name := "binary"
	if op == OpText {
		name = "text"
		if !utf8.Valid(r.partial) {
			name = "INVALID-text"
		}
	}
	r.events = append(r.events, fmt.Sprintf("%s %q", name, r.partial))
	r.partial = r.partial[:0]
	if r.failOn == "data" {
		return errHandler
	}
	return nil
}

func (r *recorder) OnPing(p []byte) error {
	r.events = append(r.events, fmt.Sprintf("ping %q", p))
	if r.failOn == "ping" {
		return errHandler
	}
	return nil
}

func (r *recorder) OnPong(p []byte) error {
	r.events = append(r.events, fmt.Sprintf("pong %q", p))
	return nil
}

func (r *recorder) OnClose(code int, reason []byte) error {
	r.events = append(r.events, fmt.Sprintf("close %d %q", code, reason))
	return nil
}

// result is what feeding a byte stream to a Reader produced.
type result struct {
	events []string
	code   int    // close code of the error; -1 for a non-CloseError error
	errAt  int    // offset in the stream just after the chunk that failed
	data   []byte // data delivered of the message the error interrupted
}

func (r result) String() string {
	return fmt.Sprintf("events %q, code %d", r.events, r.code)
}

// same reports whether two results agree on everything that must not depend
// on how the input was split.
func (r result) same(o result) bool {
	return r.code == o.code && strings.Join(r.events, "\n") == strings.Join(o.events, "\n")
}

// feedOpts configures a Reader for feed.
type feedOpts struct {
	maxSize  int64
	inflater bool
}

// feed feeds a copy of in to a new Reader in the pieces cut at splits
// (increasing offsets), and then nothing more.
func feed(in []byte, splits []int, o feedOpts) result {
	in = bytes.Clone(in)
	rd := &Reader{MaxMessageSize: o.maxSize}
	if o.inflater {
		rd.SetInflater(&testInflater{})
	}
	rec := &recorder{}
	res := result{}
	start := 0
	cuts := append(append([]int(nil), splits...), len(in))
	for _, end := range cuts {
		if end < start {
			continue
		}
		if err := rd.Feed(in[start:end], rec); err != nil {
			var ce *CloseError
			if errors.As(err, &ce) {
				res.code = ce.Code
			} else {
				res.code = -1
			}
			res.errAt = end
			break
		}
		start = end
	}
	res.events = rec.events
	res.data = rec.partial
	return res
}

// feedWhole feeds in in one piece.
func feedWhole(in []byte, o feedOpts) result { return feed(in, nil, o) }

// feedBytes feeds in one byte at a time.
func feedBytes(in []byte, o feedOpts) result {
	splits := make([]int, 0, len(in))
	for i := 1; i < len(in); i++ {
		splits = append(splits, i)
	}
	return feed(in, splits, o)
}

// randomSplits returns increasing cut points in [1, n), about one per
// average bytes.
func randomSplits(rng *rand.Rand, n, average int) []int {
	var cuts []int
	for i := 1; i < n; i++ {
		if rng.IntN(average) == 0 {
			cuts = append(cuts, i)
		}
	}
	return cuts
}

// testInflater is a simple Inflater: it collects a message's compressed bytes
// and inflates them with compress/flate when the message ends.
type testInflater struct {
	in []byte
}

func (t *testInflater) Write(p []byte, limit int64, emit func([]byte) error) error {
	t.in = append(t.in, p...)
	return nil
}

func (t *testInflater) Finish(limit int64, emit func([]byte) error) error {
	in := append(t.in, 0x00, 0x00, 0xff, 0xff)
	t.in = nil
	if limit <= 0 {
		limit = 1 << 20 // keeps fuzzing fast on decompression bombs
	}
	out, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(in)), limit+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if int64(len(out)) > limit {
		return &CloseError{Code: CloseTooBig, Reason: "too big"}
	}
	// Emit in two pieces so that joining across pieces is exercised.
	half := len(out) / 2
	if err := emit(out[:half]); err != nil {
		return err
	}
	return emit(out[half:])
}

// deflateMessage compresses msg as permessage-deflate does: a sync flush
// without its 0x00 0x00 0xff 0xff tail (RFC 7692 section 7.2.1).
func deflateMessage(t testing.TB, msg []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg)
	w.Flush()
	out := b.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatalf("flush did not end with the sync marker: % x", out)
	}
	return out[:len(out)-4]
}

// validUTF8Prefix reports whether b can be continued into valid UTF-8, by
// trying every completion of up to three continuation bytes: 0x80, 0x90 and
// 0xA0 between them fall in every range RFC 3629 allows after a lead byte,
// and a sequence is completed by continuation bytes alone.
func validUTF8Prefix(b []byte) bool {
	conts := []byte{0x80, 0x90, 0xA0}
	var try func(s []byte, depth int) bool
	try = func(s []byte, depth int) bool {
		if utf8.Valid(s) {
			return true
		}
		if depth == 0 {
			return false
		}
		for _, c := range conts {
			if try(append(s[:len(s):len(s)], c), depth-1) {
				return true
			}
		}
		return false
	}
	return try(b, 3)
}

// firstInvalidUTF8 returns the index of the first byte at which b stops being
// a prefix of valid UTF-8, or len(b) when b is a valid prefix. Being a valid
// prefix is monotone, so a binary search finds it.
func firstInvalidUTF8(b []byte) int {
	lo, hi := 0, len(b) // b[:lo] is a valid prefix; answer in [lo, hi]
	if validUTF8Prefix(b) {
		return len(b)
	}
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if validUTF8Prefix(b[:mid]) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}
