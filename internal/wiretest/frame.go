// Package wiretest is the raw side of this module's tests: WebSocket frames
// written and read byte by byte (RFC 6455 section 5), a client on a bare TCP
// socket that sends any bytes and sees every frame as it is on the wire, and
// a recorder of events to wait on.
//
// It is written from the RFC, not from the code under test, and imports
// nothing of wsserver, so the tests of every package (internal/protocol's
// included) can use it. Its helpers that take a testing.TB fail the test on
// error; the others return the error.
package wiretest

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
)

// The opcodes of RFC 6455 section 5.2.
const (
	OpCont   byte = 0x0
	OpText   byte = 0x1
	OpBinary byte = 0x2
	OpClose  byte = 0x8
	OpPing   byte = 0x9
	OpPong   byte = 0xA
)

// The RSV bits as they appear in a frame's first byte.
const (
	RSV1 byte = 0x40
	RSV2 byte = 0x20
	RSV3 byte = 0x10
)

// Frame is one frame as the wire carries it. The zero values of the fields
// after Payload give a well-formed frame, masked with Key as a client sends
// it.
type Frame struct {
	Fin     bool
	RSV     byte // RSV1|RSV2|RSV3 bits, as in the first byte
	Op      byte
	Payload []byte // unmasked

	Unmasked bool    // write without a masking key (as a server does)
	Key      [4]byte // the masking key
	LenForm  int     // 0: shortest; 1, 2 or 8: the length in 7, 16 or 64 bits
	RawLen   uint64  // when non-zero, the length field's value whatever the payload
}

// Masked reports whether f is sent with a masking key.
func (f Frame) Masked() bool { return !f.Unmasked }

// Append appends f's encoding to dst: header, key and masked payload.
func (f Frame) Append(dst []byte) []byte {
	b0 := f.Op | f.RSV
	if f.Fin {
		b0 |= 0x80
	}
	n := uint64(len(f.Payload))
	if f.RawLen != 0 {
		n = f.RawLen
	}
	form := f.LenForm
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
	if !f.Unmasked {
		maskBit = 0x80
	}
	switch form {
	case 1:
		dst = append(dst, b0, maskBit|byte(n))
	case 2:
		dst = append(dst, b0, maskBit|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, maskBit|127)
		dst = binary.BigEndian.AppendUint64(dst, n)
	}
	if f.Unmasked {
		return append(dst, f.Payload...)
	}
	dst = append(dst, f.Key[:]...)
	start := len(dst)
	dst = append(dst, f.Payload...)
	Mask(f.Key, 0, dst[start:])
	return dst
}

// Bytes returns f's encoding.
func (f Frame) Bytes() []byte { return f.Append(nil) }

// Client returns a final-or-not client frame of op masked with a random key.
func Client(fin bool, op byte, payload []byte) Frame {
	return Frame{Fin: fin, Op: op, Payload: payload, Key: RandomKey()}
}

// Server returns an unmasked frame of op, as a server sends it.
func Server(fin bool, op byte, payload []byte) Frame {
	return Frame{Fin: fin, Op: op, Payload: payload, Unmasked: true}
}

// RandomKey returns a masking key from a non-cryptographic source; RFC 6455
// section 5.3 asks for an unpredictable one, which tests do not need.
func RandomKey() [4]byte {
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	return k
}

// Mask masks (or unmasks) b in place with key, b starting at offset pos of
// the payload (RFC 6455 section 5.3): byte i is XORed with key[(pos+i)%4].
// The bulk goes eight bytes at a time, so that tests of large messages stay
// quick under the race detector.
func Mask(key [4]byte, pos int, b []byte) {
	var rot [8]byte
	for i := range rot {
		rot[i] = key[(pos+i)%4]
	}
	k := binary.LittleEndian.Uint64(rot[:])
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k)
	}
	for ; i < len(b); i++ {
		b[i] ^= rot[i%8]
	}
}

// ClosePayload returns a close frame's payload: code, then reason
// (RFC 6455 section 5.5.1).
func ClosePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// CloseCode returns the code and reason of a close payload; 1005 (no status)
// for an empty one.
func CloseCode(payload []byte) (int, string) {
	if len(payload) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(payload)), string(payload[2:])
}

// ReadFrame reads one frame from r, masked or not, and returns it with its
// payload unmasked. A frame that announces more than limit bytes is an error
// before anything is allocated for it.
func ReadFrame(r io.Reader, limit uint64) (Frame, error) {
	var f Frame
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return f, err
	}
	f.Fin, f.RSV, f.Op = hdr[0]&0x80 != 0, hdr[0]&0x70, hdr[0]&0x0F
	f.Unmasked = hdr[1]&0x80 == 0
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return f, err
		}
		n, f.LenForm = uint64(binary.BigEndian.Uint16(ext[:])), 2
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return f, err
		}
		n, f.LenForm = binary.BigEndian.Uint64(ext[:]), 8
	}
	if n > limit {
		return f, fmt.Errorf("wiretest: a frame of %d bytes, over the limit of %d", n, limit)
	}
	if !f.Unmasked {
		if _, err := io.ReadFull(r, f.Key[:]); err != nil {
			return f, err
		}
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return f, err
	}
	if !f.Unmasked {
		Mask(f.Key, 0, f.Payload)
	}
	return f, nil
}
