package protocol

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// tframe is a frame a test client sends. The zero value of the override
// fields gives a well-formed masked frame.
type tframe struct {
	fin     bool
	rsv     byte // RSV bits as they appear in the first byte (0x40, 0x20, 0x10)
	op      Opcode
	payload []byte

	unmasked bool // send without a masking key
	key      [4]byte
	lenForm  int    // 0: shortest; 1, 2 or 8: length in 7 bits, 16 bits or 64 bits
	rawLen   uint64 // when non-zero, the length field's value whatever the payload
}

// bytes encodes f as a client frame: header, key and masked payload.
func (f tframe) bytes() []byte {
	b0 := byte(f.op) | f.rsv
	if f.fin {
		b0 |= 0x80
	}
	n := uint64(len(f.payload))
	if f.rawLen != 0 {
		n = f.rawLen
	}
	form := f.lenForm
	if form == 0 {
		switch {
		case n <= 125:
			form = 1
		case n <= 0xFFFF:
			form = 2
		default:
			form = 8
		}
	}
	var maskBit byte
	if !f.unmasked {
		maskBit = 0x80
	}
	var out []byte
	switch form {
	case 1:
		out = append(out, b0, maskBit|byte(n))
	case 2:
		out = append(out, b0, maskBit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, b0, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, n)
	}
	p := bytes.Clone(f.payload)
	if !f.unmasked {
		out = append(out, f.key[:]...)
		naiveMask(f.key, 0, p)
	}
	return append(out, p...)
}

// concat joins the encoded frames.
func concat(frames ...tframe) []byte {
	var out []byte
	for _, f := range frames {
		out = append(out, f.bytes()...)
	}
	return out
}

// Shorthands for the frames most tests send, with a fixed non-trivial key.
var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func text(s string) tframe { return tframe{fin: true, op: OpText, payload: []byte(s), key: testKey} }
func bin(b []byte) tframe  { return tframe{fin: true, op: OpBinary, payload: b, key: testKey} }
func ping(s string) tframe { return tframe{fin: true, op: OpPing, payload: []byte(s), key: testKey} }
func pong(s string) tframe { return tframe{fin: true, op: OpPong, payload: []byte(s), key: testKey} }
func closeFrame(p []byte) tframe {
	return tframe{fin: true, op: OpClose, payload: p, key: testKey}
}
func frag(fin bool, op Opcode, s string) tframe {
	return tframe{fin: fin, op: op, payload: []byte(s), key: testKey}
}

// closePayload builds a close payload with code and reason.
func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// naiveMask is the definition of RFC 6455 section 5.3, one byte at a time.
func naiveMask(key [4]byte, pos int, b []byte) {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
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
