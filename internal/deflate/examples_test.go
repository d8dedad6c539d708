package deflate

import (
	"bytes"
	"errors"
	"testing"
)

// The payloads of RFC 7692 section 7.2.3.
var (
	// Section 7.2.3.1: "Hello" in one compressed DEFLATE block.
	rfcHello = []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	// Section 7.2.3.2: the second "Hello", a back-reference into the first.
	rfcHelloAgain = []byte{0xf2, 0x00, 0x11, 0x00, 0x00}
	// Section 7.2.3.3: "Hello" in a stored (no compression) block, then the
	// header byte of the empty stored block whose LEN and NLEN were removed.
	rfcHelloStored = []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}
	// Section 7.2.3.4: "Hello" in a block with BFINAL set, then one byte
	// holding the header of an empty stored block.
	rfcHelloFinal = []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}
	// Section 7.2.3.5: "He" and "llo" in two blocks.
	rfcHelloTwoBlocks = []byte{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}
)

func TestDecompress_RFC7692_7_2_3_1_OneCompressedBlock(t *testing.T) {
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	got, err := inflateMessage(d, rfcHello, 0)
	if err != nil || string(got) != "Hello" {
		t.Fatalf("got %q, %v; want \"Hello\"", got, err)
	}
	// The same message fragmented into every pair of frames, as in the
	// section's second example (0xf2 0x48 0xcd | 0xc9 0xc9 0x07 0x00).
	for cut := 0; cut <= len(rfcHello); cut++ {
		got, err := inflateFrames(d, [][]byte{rfcHello[:cut], rfcHello[cut:]}, 0)
		if err != nil || string(got) != "Hello" {
			t.Fatalf("cut at %d: got %q, %v; want \"Hello\"", cut, got, err)
		}
	}
}

func TestDecompress_RFC7692_7_2_3_2_SharingLZ77Window(t *testing.T) {
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	for i, msg := range [][]byte{rfcHello, rfcHelloAgain} {
		got, err := inflateMessage(d, msg, 0)
		if err != nil || string(got) != "Hello" {
			t.Fatalf("message %d: got %q, %v; want \"Hello\"", i, got, err)
		}
	}

	// Without context takeover the second message refers to data the
	// decompressor must not have: it is corrupt.
	p := DefaultParams()
	p.ClientNoContextTakeover = true
	d2 := NewDecompressor(p)
	defer d2.Close()
	if got, err := inflateMessage(d2, rfcHello, 0); err != nil || string(got) != "Hello" {
		t.Fatalf("first message without takeover: got %q, %v", got, err)
	}
	if _, err := inflateMessage(d2, rfcHelloAgain, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("back-reference without context takeover: got %v, want ErrCorrupt", err)
	}
}

func TestDecompress_RFC7692_7_2_3_3_NoCompressionBlock(t *testing.T) {
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	for cut := 0; cut <= len(rfcHelloStored); cut++ {
		got, err := inflateFrames(d, [][]byte{rfcHelloStored[:cut], rfcHelloStored[cut:]}, 0)
		if err != nil || string(got) != "Hello" {
			t.Fatalf("cut at %d: got %q, %v; want \"Hello\"", cut, got, err)
		}
	}
}

func TestDecompress_RFC7692_7_2_3_4_BFINALBlock(t *testing.T) {
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	for i := 0; i < 3; i++ {
		got, err := inflateMessage(d, rfcHelloFinal, 0)
		if err != nil || string(got) != "Hello" {
			t.Fatalf("message %d: got %q, %v; want \"Hello\"", i, got, err)
		}
	}
	// The context is kept across a BFINAL message: the 7.2.3.2 message
	// still refers to the previous "Hello".
	got, err := inflateMessage(d, rfcHelloAgain, 0)
	if err != nil || string(got) != "Hello" {
		t.Fatalf("back-reference after BFINAL message: got %q, %v", got, err)
	}
}

func TestDecompress_RFC7692_7_2_3_5_TwoBlocks(t *testing.T) {
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	for cut := 0; cut <= len(rfcHelloTwoBlocks); cut++ {
		got, err := inflateFrames(d, [][]byte{rfcHelloTwoBlocks[:cut], rfcHelloTwoBlocks[cut:]}, 0)
		if err != nil || string(got) != "Hello" {
			t.Fatalf("cut at %d: got %q, %v; want \"Hello\"", cut, got, err)
		}
	}
}

func TestDecompress_RFC7692_7_2_3_6_EmptyFragment(t *testing.T) {
	d := NewDecompressor(DefaultParams())
	defer d.Close()
	// "Hello" with its full sync flush in a first frame, then a final
	// frame holding only 0x00: an empty stored block without its tail.
	first := append(append([]byte(nil), rfcHello...), syncTail[:]...)
	got, err := inflateFrames(d, [][]byte{first, {0x00}}, 0)
	if err != nil || string(got) != "Hello" {
		t.Fatalf("got %q, %v; want \"Hello\"", got, err)
	}
	// An empty message: the payload 0x00, or (leniently accepted) no
	// payload at all.
	for _, msg := range [][]byte{{0x00}, {}} {
		got, err := inflateMessage(d, msg, 0)
		if err != nil || len(got) != 0 {
			t.Fatalf("empty message % x: got %q, %v", msg, got, err)
		}
	}
}

func TestCompress_RFC7692_7_2_3_6_EmptyMessage(t *testing.T) {
	for _, takeover := range []bool{true, false} {
		p := DefaultParams()
		p.ServerNoContextTakeover = !takeover
		c := NewCompressor(p, DefaultCompression)
		first := c.Compress(nil, []byte("Hello, Hello"))
		empty := c.Compress([]byte("x"), nil)
		if !bytes.Equal(empty, []byte("x\x00")) {
			t.Fatalf("takeover=%v: empty message compressed to % x, want 78 00", takeover, empty)
		}
		third := c.Compress(nil, []byte("Hello, Hello"))
		got := stdInflate(t, takeover, [][]byte{first, empty[1:], third}, []int{12, 0, 12})
		if string(got[0]) != "Hello, Hello" || len(got[1]) != 0 || string(got[2]) != "Hello, Hello" {
			t.Fatalf("takeover=%v: stdlib decoded %q", takeover, got)
		}
		d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
		for i, m := range [][]byte{first, empty[1:], third} {
			out, err := inflateMessage(d, m, 0)
			if err != nil || len(out) != []int{12, 0, 12}[i] {
				t.Fatalf("takeover=%v message %d: got %q, %v", takeover, i, out, err)
			}
		}
		c.Close()
		d.Close()
	}
}

func TestCompress_RFC7692_7_2_1_RemovesSyncTail(t *testing.T) {
	for _, level := range []int{HuffmanOnly, NoCompression, BestSpeed, DefaultCompression, BestCompression} {
		c := NewCompressor(DefaultParams(), level)
		msg := []byte("Hello")
		out := c.Compress(nil, msg)
		if bytes.HasSuffix(out, syncTail[:]) {
			t.Errorf("level %d: output % x still ends with 00 00 ff ff", level, out)
		}
		got := stdInflate(t, false, [][]byte{out}, []int{len(msg)})
		if string(got[0]) != "Hello" {
			t.Errorf("level %d: stdlib decoded %q", level, got[0])
		}
		c.Close()
	}
}
