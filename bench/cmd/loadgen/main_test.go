package main

import (
	"bytes"
	"compress/flate"
	"testing"

	"github.com/wsserver/wsserver/bench/internal/wire"
)

// serverFrame builds an unmasked server frame.
func serverFrame(op byte, fin, rsv1 bool, p []byte) []byte {
	f := wire.ClientFrame(op, rsv1, p) // masked; undo it
	if !fin {
		f[0] &^= 0x80
	}
	n := hdrLen(f[1])
	out := append([]byte{f[0], f[1] &^ 0x80}, f[2:n-4]...)
	return append(out, p...)
}

func testGen(t *testing.T, deflate bool, size int) (*gen, *conn) {
	t.Helper()
	g := &gen{deflate: deflate}
	if deflate {
		g.payload = wire.TextPayload(size)
	} else {
		g.payload = wire.BinaryPayload(size)
	}
	g.frame = []byte{0}
	c := &conn{needHdr: true, written: 1 << 40, state: stOpen}
	return g, c
}

// feedAll feeds stream to the parser in pieces of step bytes.
func feedAll(t *testing.T, g *gen, c *conn, stream []byte, step int) error {
	t.Helper()
	for len(stream) > 0 {
		k := min(step, len(stream))
		if err := g.feedWS(c, stream[:k]); err != nil {
			return err
		}
		stream = stream[k:]
	}
	return nil
}

func TestParserFragmentsAndSplits(t *testing.T) {
	for _, size := range []int{1, 125, 126, 300, 70000} {
		g, _ := testGen(t, false, size)
		p := g.payload
		var stream []byte
		// whole frame, a ping, then the message in three fragments with a pong between
		stream = append(stream, serverFrame(wire.OpBinary, true, false, p)...)
		stream = append(stream, serverFrame(wire.OpPing, true, false, []byte("hi"))...)
		a, b := len(p)/3, 2*len(p)/3
		stream = append(stream, serverFrame(wire.OpBinary, false, false, p[:a])...)
		stream = append(stream, serverFrame(wire.OpPong, true, false, nil)...)
		stream = append(stream, serverFrame(wire.OpContinuation, false, false, p[a:b])...)
		stream = append(stream, serverFrame(wire.OpContinuation, true, false, p[b:])...)
		for _, step := range []int{1, 2, 3, 7, 13, 64, 1 << 20} {
			g, c := testGen(t, false, size)
			if err := feedAll(t, g, c, stream, step); err != nil {
				t.Fatalf("size %d step %d: %v", size, step, err)
			}
			if c.msgs != 2 {
				t.Fatalf("size %d step %d: %d messages, want 2", size, step, c.msgs)
			}
		}
	}
}

func TestParserRejects(t *testing.T) {
	g, c := testGen(t, false, 100)
	bad := append([]byte(nil), g.payload...)
	bad[50] ^= 1
	if err := feedAll(t, g, c, serverFrame(wire.OpBinary, true, false, bad), 1<<20); err == nil {
		t.Fatal("a corrupted echo passed")
	}
	g, c = testGen(t, false, 100)
	if err := feedAll(t, g, c, serverFrame(wire.OpBinary, true, false, g.payload[:99]), 1<<20); err == nil {
		t.Fatal("a short echo passed")
	}
	g, c = testGen(t, false, 100)
	if err := feedAll(t, g, c, serverFrame(wire.OpText, true, false, g.payload), 1<<20); err == nil {
		t.Fatal("a wrong opcode passed")
	}
	g, c = testGen(t, false, 100)
	if err := feedAll(t, g, c, serverFrame(wire.OpClose, true, false, []byte{3, 232}), 1<<20); err == nil {
		t.Fatal("a close passed")
	}
	g, c = testGen(t, false, 100)
	c.written = 0
	if err := feedAll(t, g, c, serverFrame(wire.OpBinary, true, false, g.payload), 1<<20); err == nil {
		t.Fatal("an echo of nothing sent passed")
	}
}

func compressLevel(p []byte, level int) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, level)
	w.Write(p)
	w.Flush()
	return b.Bytes()[:b.Len()-4]
}

func TestParserDeflate(t *testing.T) {
	g, c := testGen(t, true, 5000)
	z1 := compressLevel(g.payload, 1)
	z9 := compressLevel(g.payload, 9)
	var stream []byte
	for range 3 {
		stream = append(stream, serverFrame(wire.OpText, true, true, z1)...)
	}
	// another compressor's bytes, fragmented
	stream = append(stream, serverFrame(wire.OpText, false, true, z9[:10])...)
	stream = append(stream, serverFrame(wire.OpContinuation, true, false, z9[10:])...)
	stream = append(stream, serverFrame(wire.OpText, true, true, z1)...)
	// uncompressed is allowed too
	stream = append(stream, serverFrame(wire.OpText, true, false, g.payload)...)
	for _, step := range []int{1, 5, 100, 1 << 20} {
		g.variants, g.inflated = nil, 0
		*c = conn{needHdr: true, written: 1 << 40, state: stOpen}
		if err := feedAll(t, g, c, stream, step); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if c.msgs != 6 {
			t.Fatalf("step %d: %d messages, want 6", step, c.msgs)
		}
		if g.inflated != 2 {
			t.Fatalf("step %d: inflated %d, want 2 (one per distinct form)", step, g.inflated)
		}
	}
	bad := append([]byte(nil), z1...)
	bad[len(bad)/2] ^= 0x10
	g.variants = nil
	*c = conn{needHdr: true, written: 1 << 40, state: stOpen}
	if err := feedAll(t, g, c, serverFrame(wire.OpText, true, true, bad), 1<<20); err == nil {
		t.Fatal("a corrupted compressed echo passed")
	}
}

func TestRawStream(t *testing.T) {
	g, c := testGen(t, false, 1000)
	g.raw = true
	stream := bytes.Repeat(g.payload, 5)
	for _, step := range []int{1, 999, 1001, 1 << 20} {
		c.msgs, c.msgOff = 0, 0
		for s := stream; len(s) > 0; {
			k := min(step, len(s))
			if err := g.feedRaw(c, s[:k]); err != nil {
				t.Fatal(err)
			}
			s = s[k:]
		}
		if c.msgs != 5 {
			t.Fatalf("step %d: %d messages", step, c.msgs)
		}
	}
	bad := append([]byte(nil), g.payload...)
	bad[999] ^= 1
	if g.feedRaw(c, bad) == nil {
		t.Fatal("corrupted raw echo passed")
	}
}
