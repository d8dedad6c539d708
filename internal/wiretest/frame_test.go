package wiretest

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestFrame_RFC6455_5_7 encodes the examples of RFC 6455 section 5.7 and
// reads them back.
func TestFrame_RFC6455_5_7(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, tc := range []struct {
		name string
		f    Frame
		hex  string
	}{
		{"unmasked text", Server(true, OpText, []byte("Hello")), "810548656c6c6f"},
		{"masked text", Frame{Fin: true, Op: OpText, Payload: []byte("Hello"), Key: key}, "818537fa213d7f9f4d5158"},
		{"first fragment", Server(false, OpText, []byte("Hel")), "010348656c"},
		{"last fragment", Server(true, OpCont, []byte("lo")), "80026c6f"},
		{"unmasked ping", Server(true, OpPing, []byte("Hello")), "890548656c6c6f"},
		{"masked pong", Frame{Fin: true, Op: OpPong, Payload: []byte("Hello"), Key: key}, "8a8537fa213d7f9f4d5158"},
	} {
		got := hex.EncodeToString(tc.f.Bytes())
		if got != tc.hex {
			t.Errorf("%s: % s, want %s", tc.name, got, tc.hex)
		}
		back, err := ReadFrame(bytes.NewReader(tc.f.Bytes()), 1<<20)
		if err != nil || back.Fin != tc.f.Fin || back.Op != tc.f.Op || !bytes.Equal(back.Payload, tc.f.Payload) || back.Unmasked != tc.f.Unmasked {
			t.Errorf("%s: read back %+v, %v", tc.name, back, err)
		}
	}
}

// TestFrame_LengthForms_RFC6455_5_2 checks the 7-, 16- and 64-bit length
// forms at their edges, and that a frame over the limit is refused before
// its payload is read.
func TestFrame_LengthForms_RFC6455_5_2(t *testing.T) {
	for _, n := range []int{0, 125, 126, 0xFFFF, 0x10000} {
		b := Client(true, OpBinary, bytes.Repeat([]byte{'x'}, n)).Bytes()
		wantForm := 0
		switch {
		case n > 0xFFFF:
			wantForm = 8
		case n > 125:
			wantForm = 2
		}
		f, err := ReadFrame(bytes.NewReader(b), 1<<20)
		if err != nil || len(f.Payload) != n || f.LenForm != wantForm || f.Unmasked {
			t.Errorf("%d bytes: form %d, %d bytes, %v", n, f.LenForm, len(f.Payload), err)
		}
	}
	big := Frame{Op: OpBinary, RawLen: 1 << 40, Unmasked: true}.Bytes()
	if _, err := ReadFrame(bytes.NewReader(big), 1<<20); err == nil {
		t.Error("a frame announcing 1 TiB was read")
	}
}

// TestMask_MatchesDefinition_RFC6455_5_3 checks the word-at-a-time Mask
// against the byte-at-a-time definition at every offset and length.
func TestMask_MatchesDefinition_RFC6455_5_3(t *testing.T) {
	key := [4]byte{1, 2, 3, 250}
	for pos := range 4 {
		for n := range 40 {
			b := bytes.Repeat([]byte{0xA5}, n)
			Mask(key, pos, b)
			for i := range b {
				if want := 0xA5 ^ key[(pos+i)%4]; b[i] != want {
					t.Fatalf("pos %d len %d byte %d: %#x, want %#x", pos, n, i, b[i], want)
				}
			}
		}
	}
}

// TestClosePayload_RFC6455_5_5_1 round-trips a close payload, and reads an
// empty one as 1005.
func TestClosePayload_RFC6455_5_5_1(t *testing.T) {
	if code, reason := CloseCode(ClosePayload(1001, "bye")); code != 1001 || reason != "bye" {
		t.Errorf("got %d %q", code, reason)
	}
	if code, _ := CloseCode(nil); code != 1005 {
		t.Errorf("empty payload: %d, want 1005", code)
	}
}

// TestAccept_RFC6455_4_2_2 is the RFC's own example of the accept key.
func TestAccept_RFC6455_4_2_2(t *testing.T) {
	if got := Accept("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("Accept = %s", got)
	}
}
