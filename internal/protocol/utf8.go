package protocol

import "unicode/utf8"

// UTF8Validator checks UTF-8 (RFC 3629) incrementally over the pieces of one
// text message, so that a message split across frames and reads is judged as
// a whole, and so that invalid input is rejected as soon as the first byte
// that cannot start or continue a valid sequence arrives (RFC 6455 section 8.1).
// The zero value is ready for a new message.
type UTF8Validator struct {
	pend [4]byte // the bytes of an incomplete trailing sequence
	n    int     // len of pend in use
}

// Reset prepares v for a new message.
func (v *UTF8Validator) Reset() { v.n = 0 }

// Pending returns the number of bytes at the end of the input so far that
// form an incomplete (but so far valid) sequence.
func (v *UTF8Validator) Pending() int { return v.n }

// Write validates the next piece p of the message. It returns false as soon as
// the input so far cannot be the prefix of valid UTF-8.
func (v *UTF8Validator) Write(p []byte) bool {
	if v.n > 0 {
		need := seqLen(v.pend[0])
		for v.n < need && len(p) > 0 {
			v.pend[v.n] = p[0]
			v.n++
			p = p[1:]
			if !validPrefix(v.pend[:v.n]) {
				return false
			}
		}
		if v.n < need {
			return true
		}
		v.n = 0
	}
	// Fast path: skip ASCII eight bytes at a time.
	i := 0
	for i+8 <= len(p) {
		w := uint64(p[i]) | uint64(p[i+1])<<8 | uint64(p[i+2])<<16 | uint64(p[i+3])<<24 |
			uint64(p[i+4])<<32 | uint64(p[i+5])<<40 | uint64(p[i+6])<<48 | uint64(p[i+7])<<56
		if w&0x8080808080808080 != 0 {
			break
		}
		i += 8
	}
	p = p[i:]
	if len(p) == 0 {
		return true
	}
	// Split off a trailing incomplete sequence (at most 3 bytes).
	cut := CompleteRunes(p)
	if !utf8.Valid(p[:cut]) {
		return false
	}
	if cut < len(p) {
		tail := p[cut:]
		if !validPrefix(tail) {
			return false
		}
		v.n = copy(v.pend[:], tail)
	}
	return true
}

// Complete reports whether the input so far ends on a sequence boundary,
// as a whole text message must.
func (v *UTF8Validator) Complete() bool { return v.n == 0 }

// seqLen returns the length of the sequence that lead byte c starts, or 0 when
// c cannot start one.
func seqLen(c byte) int {
	switch {
	case c < 0x80:
		return 1
	case c >= 0xC2 && c <= 0xDF:
		return 2
	case c >= 0xE0 && c <= 0xEF:
		return 3
	case c >= 0xF0 && c <= 0xF4:
		return 4
	}
	return 0
}

// validPrefix reports whether b (shorter than its sequence) can still become
// a valid sequence: it rejects overlong forms, surrogates and code points
// above U+10FFFF at the earliest byte that shows them (RFC 3629 section 4).
func validPrefix(b []byte) bool {
	n := seqLen(b[0])
	if n == 0 || len(b) > n {
		return false
	}
	if len(b) >= 2 {
		lo, hi := byte(0x80), byte(0xBF)
		switch b[0] {
		case 0xE0:
			lo = 0xA0
		case 0xED:
			hi = 0x9F
		case 0xF0:
			lo = 0x90
		case 0xF4:
			hi = 0x8F
		}
		if b[1] < lo || b[1] > hi {
			return false
		}
	}
	for _, c := range b[min(len(b), 2):] {
		if c&0xC0 != 0x80 {
			return false
		}
	}
	return true
}

// CompleteRunes returns the length of the longest prefix of p that does not
// end inside a UTF-8 sequence; callers use it to hand out text pieces that are
// whole strings.
func CompleteRunes(p []byte) int {
	for back := 1; back <= 3 && back <= len(p); back++ {
		c := p[len(p)-back]
		if c&0xC0 == 0x80 {
			continue
		}
		if c >= 0xC0 && seqLen(c) > back {
			return len(p) - back
		}
		break
	}
	return len(p)
}
