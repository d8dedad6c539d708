package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wsserver/wsserver/internal/wiretest"
)

// sframe is a frame the server sent, as a client decodes it.
type sframe struct {
	fin, rsv1 bool
	op        Opcode
	payload   []byte
}

func (f sframe) String() string {
	return fmt.Sprintf("{fin %v rsv1 %v op %#x len %d}", f.fin, f.rsv1, f.op, len(f.payload))
}

// decodeServerFrames parses unmasked server frames (RFC 6455 section 5.2)
// independently of the code under test, checking that each length is in its
// shortest form.
func decodeServerFrames(t *testing.T, b []byte) []sframe {
	t.Helper()
	var fs []sframe
	for len(b) > 0 {
		if len(b) < 2 {
			t.Fatalf("truncated header: % x", b)
		}
		f := sframe{fin: b[0]&0x80 != 0, rsv1: b[0]&0x40 != 0, op: Opcode(b[0] & 0x0f)}
		if b[0]&0x30 != 0 || b[1]&0x80 != 0 {
			t.Fatalf("server frame with RSV2/3 or mask bit: % x", b[:2])
		}
		n := uint64(b[1] & 0x7f)
		b = b[2:]
		switch n {
		case 126:
			n = uint64(binary.BigEndian.Uint16(b))
			b = b[2:]
			if n < 126 {
				t.Fatalf("length %d in 16 bits", n)
			}
		case 127:
			n = binary.BigEndian.Uint64(b)
			b = b[8:]
			if n <= 0xffff || n>>63 != 0 {
				t.Fatalf("length %d in 64 bits", n)
			}
		}
		if uint64(len(b)) < n {
			t.Fatalf("truncated payload: %d of %d bytes", len(b), n)
		}
		f.payload, b = b[:n], b[n:]
		fs = append(fs, f)
	}
	return fs
}

func TestAppendHeader_RFC6455_5_2(t *testing.T) {
	for _, c := range []struct {
		fin  bool
		op   Opcode
		rsv1 bool
		n    int
		want []byte
	}{
		{true, OpText, false, 0, []byte{0x81, 0x00}},
		{true, OpBinary, false, 125, []byte{0x82, 125}},
		{false, OpText, true, 126, []byte{0x41, 126, 0x00, 126}},
		{false, OpContinuation, false, 65535, []byte{0x00, 126, 0xff, 0xff}},
		{true, OpBinary, true, 65536, []byte{0xc2, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{true, OpClose, false, 2, []byte{0x88, 2}},
		{true, OpPing, false, 5, []byte{0x89, 5}},
		{true, OpPong, false, 5, []byte{0x8a, 5}},
	} {
		got := AppendHeader([]byte{0xEE}, c.fin, c.op, c.rsv1, c.n)
		if !bytes.Equal(got[1:], c.want) || got[0] != 0xEE {
			t.Errorf("AppendHeader(%v, %#x, %v, %d) = % x, want % x", c.fin, c.op, c.rsv1, c.n, got[1:], c.want)
		}
		if HeaderSize(c.n) != len(c.want) {
			t.Errorf("HeaderSize(%d) = %d, want %d", c.n, HeaderSize(c.n), len(c.want))
		}
	}
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 30} {
		if HeaderSize(n) != len(AppendHeader(nil, true, OpBinary, false, n)) {
			t.Errorf("HeaderSize(%d) disagrees with AppendHeader", n)
		}
	}
	if HeaderSize(1<<62)+4 > MaxHeaderSize {
		t.Error("MaxHeaderSize is smaller than a header with a key")
	}
}

func TestAppendFrame(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 128, 65535, 65536, 70000} {
		p := bytes.Repeat([]byte{'q'}, n)
		fs := decodeServerFrames(t, AppendFrame(nil, true, OpBinary, false, p))
		if len(fs) != 1 || !fs[0].fin || fs[0].op != OpBinary || !bytes.Equal(fs[0].payload, p) {
			t.Fatalf("AppendFrame of %d bytes decoded as %v", n, fs)
		}
	}
}

func TestAppendMessage_RFC6455_5_4_Fragmentation(t *testing.T) {
	type fr struct {
		fin  bool
		op   Opcode
		rsv1 bool
		n    int
	}
	for _, c := range []struct {
		name       string
		op         Opcode
		compressed bool
		n, max     int
		begin, end bool
		want       []fr
	}{
		{"whole, no limit", OpText, false, 10, 0, true, true, []fr{{true, OpText, false, 10}}},
		{"empty message", OpBinary, false, 0, 0, true, true, []fr{{true, OpBinary, false, 0}}},
		{"empty message with limit", OpBinary, false, 0, 4, true, true, []fr{{true, OpBinary, false, 0}}},
		{"exact limit", OpText, false, 4, 4, true, true, []fr{{true, OpText, false, 4}}},
		{"two frames", OpText, false, 5, 4, true, true, []fr{{false, OpText, false, 4}, {true, OpContinuation, false, 1}}},
		{"multiple of the limit", OpBinary, false, 12, 4, true, true,
			[]fr{{false, OpBinary, false, 4}, {false, OpContinuation, false, 4}, {true, OpContinuation, false, 4}}},
		{"compressed sets RSV1 on the first frame only", OpText, true, 9, 4, true, true,
			[]fr{{false, OpText, true, 4}, {false, OpContinuation, false, 4}, {true, OpContinuation, false, 1}}},
		{"first part", OpText, false, 6, 4, true, false, []fr{{false, OpText, false, 4}, {false, OpContinuation, false, 2}}},
		{"middle part", OpText, false, 6, 4, false, false, []fr{{false, OpContinuation, false, 4}, {false, OpContinuation, false, 2}}},
		{"last part", OpBinary, false, 6, 4, false, true, []fr{{false, OpContinuation, false, 4}, {true, OpContinuation, false, 2}}},
		{"empty first part", OpText, false, 0, 4, true, false, []fr{{false, OpText, false, 0}}},
		{"empty middle part", OpText, false, 0, 4, false, false, nil},
		{"empty last part", OpText, false, 0, 4, false, true, []fr{{true, OpContinuation, false, 0}}},
		{"large, no limit", OpBinary, false, 70000, 0, true, true, []fr{{true, OpBinary, false, 70000}}},
	} {
		payload := make([]byte, c.n)
		for i := range payload {
			payload[i] = byte(i)
		}
		fs := decodeServerFrames(t, AppendMessage(nil, c.op, c.compressed, payload, c.max, c.begin, c.end))
		var got []fr
		var joined []byte
		for _, f := range fs {
			got = append(got, fr{f.fin, f.op, f.rsv1, len(f.payload)})
			joined = append(joined, f.payload...)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: frames %v, want %v", c.name, got, c.want)
		}
		if !bytes.Equal(joined, payload) {
			t.Errorf("%s: payload not carried whole", c.name)
		}
	}
}

// TestAppendMessage_Parts sends a message in random parts with random frame
// limits and checks the frames form exactly one valid message (RFC 6455
// section 5.4): one opening frame, continuations, FIN on the last only, and
// each frame within the limit.
func TestAppendMessage_Parts(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 2000 {
		msg := make([]byte, rng.IntN(300))
		for i := range msg {
			msg[i] = byte(rng.IntN(256))
		}
		maxFrame := rng.IntN(50)
		op := []Opcode{OpText, OpBinary}[rng.IntN(2)]
		compressed := rng.IntN(2) == 0
		cuts := randomSplits(rng, len(msg), 1+rng.IntN(100))
		var out []byte
		start := 0
		all := append(cuts, len(msg))
		for i, end := range all {
			out = AppendMessage(out, op, compressed, msg[start:end], maxFrame, i == 0, i == len(all)-1)
			start = end
		}
		fs := decodeServerFrames(t, out)
		var joined []byte
		for i, f := range fs {
			first, last := i == 0, i == len(fs)-1
			if wantOp := map[bool]Opcode{true: op, false: OpContinuation}[first]; f.op != wantOp {
				t.Fatalf("frame %d of %v has opcode %#x", i, fs, f.op)
			}
			if f.fin != last || f.rsv1 != (first && compressed) {
				t.Fatalf("frame %d of %v: fin %v rsv1 %v", i, fs, f.fin, f.rsv1)
			}
			if maxFrame > 0 && len(f.payload) > maxFrame {
				t.Fatalf("frame %d of %d bytes over the limit %d", i, len(f.payload), maxFrame)
			}
			if len(f.payload) == 0 && !first && !last {
				t.Fatalf("empty middle frame %d in %v", i, fs)
			}
			joined = append(joined, f.payload...)
		}
		if !bytes.Equal(joined, msg) {
			t.Fatal("parts did not rebuild the message")
		}
	}
}

// TestAppendMessage_ReadBack masks the server's frames as a client would and
// feeds them to a Reader: what one side writes the other reads.
func TestAppendMessage_ReadBack(t *testing.T) {
	msg := []byte("round trip: κόσμε €𝄞")
	out := AppendMessage(nil, OpText, false, msg, 3, true, true)
	var in []byte
	for _, f := range decodeServerFrames(t, out) {
		in = append(in, wiretest.Frame{Fin: f.fin, Op: byte(f.op), Payload: f.payload, Key: testKey}.Bytes()...)
	}
	res := feedBytes(in, feedOpts{})
	if res.code != 0 || len(res.events) != 1 || res.events[0] != fmt.Sprintf("text %q", msg) {
		t.Fatalf("read back: %v", res)
	}
}

func TestAppendMessage_NoAllocs(t *testing.T) {
	payload := make([]byte, 5000)
	dst := make([]byte, 0, 8192)
	allocs := testing.AllocsPerRun(100, func() {
		dst = AppendMessage(dst[:0], OpBinary, false, payload, 1000, true, true)
	})
	if allocs != 0 {
		t.Fatalf("AppendMessage into a large enough buffer: %v allocs", allocs)
	}
}
