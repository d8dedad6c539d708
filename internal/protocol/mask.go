package protocol

import "encoding/binary"

// Mask XORs b in place with the 4-byte masking key (RFC 6455 section 5.3),
// starting at byte pos of the key, and returns the key position after b.
// It works 128 bytes at a time with AVX2 where the CPU has it, else eight
// bytes at a time, so unmasking costs a fraction of a copy.
func Mask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	// Bring the key to the alignment of b.
	for pos != 0 && len(b) > 0 {
		b[0] ^= key[pos]
		b = b[1:]
		pos = (pos + 1) & 3
	}
	k32 := binary.LittleEndian.Uint32(key[:])
	if maskWide > 0 && len(b) >= maskWide {
		n := len(b) - len(b)%maskWide
		maskVector(&b[0], n, k32)
		b = b[n:]
	}
	k64 := uint64(k32) | uint64(k32)<<32
	for len(b) >= 32 {
		v := binary.LittleEndian.Uint64(b)
		binary.LittleEndian.PutUint64(b, v^k64)
		v = binary.LittleEndian.Uint64(b[8:])
		binary.LittleEndian.PutUint64(b[8:], v^k64)
		v = binary.LittleEndian.Uint64(b[16:])
		binary.LittleEndian.PutUint64(b[16:], v^k64)
		v = binary.LittleEndian.Uint64(b[24:])
		binary.LittleEndian.PutUint64(b[24:], v^k64)
		b = b[32:]
	}
	for len(b) >= 8 {
		v := binary.LittleEndian.Uint64(b)
		binary.LittleEndian.PutUint64(b, v^k64)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	return pos
}
