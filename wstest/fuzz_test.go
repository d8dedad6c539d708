package wstest

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzFrameReader feeds arbitrary bytes to the client's frame parser: it
// never panics, never returns a payload over the limit or a control frame
// over 125 bytes, and either reads frames or fails with an error.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{0x01, 0x01, 'a', 0x80, 0x01, 'b'})
	f.Add([]byte{0x88, 0x02, 0x03, 0xE8})
	f.Add([]byte{0x82, 0x7E, 0x00, 0x80})
	f.Add([]byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Add([]byte{0x89, 0x80, 1, 2, 3, 4})
	f.Add([]byte{0xC1, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := frameReader{r: bytes.NewReader(data), limit: 1 << 16}
		for i := 0; i < 1000; i++ {
			fm, err := fr.next()
			if err != nil {
				var pe *protocolErr
				if !errors.As(err, &pe) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if len(fm.payload) > 1<<16 {
				t.Fatalf("payload of %d bytes over the limit", len(fm.payload))
			}
			if fm.op.IsControl() && (len(fm.payload) > 125 || !fm.fin) {
				t.Fatalf("control frame %v with %d bytes, fin %v", fm.op, len(fm.payload), fm.fin)
			}
		}
	})
}
