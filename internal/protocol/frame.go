// Package protocol is the I/O-free core of the WebSocket protocol (RFC 6455)
// as seen from a server: a Reader that turns the bytes a client sent into
// message pieces and control frames, and encoders that turn messages into the
// bytes a server sends. Nothing here touches a socket, a clock or a goroutine,
// so every rule can be tested and fuzzed with byte slices alone.
package protocol

import "encoding/binary"

// Opcode is a frame opcode (RFC 6455 section 5.2).
type Opcode byte

// The opcodes of RFC 6455 section 11.8.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (RFC 6455 section 5.5).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// MaxControlPayload is the largest payload of a control frame (RFC 6455 section 5.5).
const MaxControlPayload = 125

// MaxHeaderSize is the largest frame header a server writes or reads:
// 2 bytes, 8 bytes of extended length and a 4-byte masking key.
const MaxHeaderSize = 14

// AppendHeader appends an unmasked server frame header (RFC 6455 section 5.2)
// for a payload of length n to dst. rsv1 marks a compressed message (RFC 7692).
func AppendHeader(dst []byte, fin bool, op Opcode, rsv1 bool, n int) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	switch {
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= 0xFFFF:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

// HeaderSize returns the size of the header AppendHeader writes for a payload of length n.
func HeaderSize(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xFFFF:
		return 4
	default:
		return 10
	}
}

// AppendFrame appends one complete unmasked frame carrying payload to dst.
func AppendFrame(dst []byte, fin bool, op Opcode, rsv1 bool, payload []byte) []byte {
	dst = AppendHeader(dst, fin, op, rsv1, len(payload))
	return append(dst, payload...)
}
