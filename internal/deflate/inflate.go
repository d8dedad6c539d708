package deflate

import (
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"sync"
)

// This file holds a DEFLATE decoder (RFC 1951) for messages whose compressed
// bytes are all in memory, which is how Finish sees every message that was
// not inflated ahead by Write (all of them under SetWholeMessages). Knowing
// the whole input lets it read the bit stream eight bytes at a time, and it
// decodes into one large flat buffer, so back-references are plain copies
// and output leaves in a few large pieces instead of 32 KiB windows.

const (
	// inflateBufSize is the output buffer of a wholeInflater. When it fills
	// up, its content is emitted and the last windowSize bytes are moved to
	// the front as the back-reference window.
	inflateBufSize = 256 << 10
	// inflateSlack is the room kept free at the end of the output buffer
	// before each symbol: the longest match (258) plus the 8-byte overrun of
	// the word-at-a-time copy.
	inflateSlack = 258 + 16

	litTableBits  = 10 // primary table bits, literal/length codes
	distTableBits = 8  // primary table bits, distance codes
	maxCodeBits   = 15 // longest DEFLATE code
	numLitCodes   = 288
	numDistCodes  = 32
	numCLCodes    = 19
)

// A decoding table entry (uint32):
//
//	bits 0-3   code bits to consume (for a subtable link: the primary bits)
//	bits 4-7   extra bits following the code (for a link: subtable bits)
//	bit 8      not a literal
//	bit 9      end of block
//	bit 10     link to a subtable at the value's offset
//	bit 11     invalid code
//	bits 16-31 value: literal byte, length or distance base, subtable offset
const (
	entNotLit  = 1 << 8
	entEOB     = 1 << 9
	entLink    = 1 << 10
	entInvalid = 1 << 11
)

// Primary tables plus their subtables: at most one subtable per code longer
// than the primary bits, each with 2^(15-primary bits) entries.
// The arrays are rounded up to powers of two, so that masked indexes need
// no bounds check.
const (
	litTableMax  = 1 << 14 // >= 1<<litTableBits + numLitCodes<<(maxCodeBits-litTableBits)
	distTableMax = 1 << 13 // >= 1<<distTableBits + numDistCodes<<(maxCodeBits-distTableBits)
)

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// clOrder is the order of the code length code lengths in a dynamic
	// block header.
	clOrder = [numCLCodes]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

var (
	errInvalidCode    = errors.New("invalid Huffman code")
	errBadCodeLens    = errors.New("invalid Huffman code lengths")
	errBadBlockType   = errors.New("reserved block type 3")
	errBadStoredLen   = errors.New("stored block length does not match its complement")
	errDistTooFar     = errors.New("back-reference before the start of the window")
	errBadRepeat      = errors.New("code length repeat without a previous length")
	errTooManyCodes   = errors.New("too many literal/length or distance codes")
	errNoEndOfBlock   = errors.New("no code for end of block")
	fixedTablesOnce   sync.Once
	fixedLit          *[litTableMax]uint32
	fixedDist         *[distTableMax]uint32
	fixedLitBits      uint
	fixedDistBits     uint
	wholeInflaterPool sync.Pool
)

// buildTable fills tab (of at least litTableMax or distTableMax entries) to
// decode the canonical Huffman code with the given code lengths; symbol s
// decodes to sym(s). It returns the primary table bits. An incomplete code is
// accepted only when it is empty or has a single code of length 1 (which
// RFC 1951 allows for distances); undefined bit patterns decode as invalid.
func buildTable(tab []uint32, lens []uint8, maxPrimary uint, sym func(int) uint32) (uint, error) {
	var count [maxCodeBits + 1]int
	maxLen := uint(0)
	for _, l := range lens {
		count[l]++
		if uint(l) > maxLen {
			maxLen = uint(l)
		}
	}
	count[0] = 0
	var next [maxCodeBits + 2]int
	code, left := 0, 1
	for l := 1; l <= maxCodeBits; l++ {
		left <<= 1
		left -= count[l]
		if left < 0 {
			return 0, errBadCodeLens // over-subscribed
		}
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	if left > 0 && !(maxLen == 0 || (maxLen == 1 && count[1] == 1)) {
		return 0, errBadCodeLens // incomplete
	}
	pbits := min(maxLen, maxPrimary)
	if pbits == 0 {
		pbits = 1
	}
	psize := 1 << pbits
	for i := 0; i < psize; i++ {
		tab[i] = entInvalid | entNotLit | uint32(pbits)
	}
	subBits := uint(0)
	if maxLen > pbits {
		subBits = maxLen - pbits
	}
	end := psize
	// Symbols in canonical order: by length, then by symbol value. Long
	// codes sharing a primary prefix are then consecutive.
	var start [maxCodeBits + 2]int
	for l := 1; l <= maxCodeBits; l++ {
		start[l+1] = start[l] + count[l]
	}
	var sorted [numLitCodes + numDistCodes]uint16
	for s, sl := range lens {
		if sl != 0 {
			sorted[start[sl]] = uint16(s)
			start[sl]++
		}
	}
	for _, s16 := range sorted[:start[maxCodeBits]] {
		s := int(s16)
		l := uint(lens[s])
		{
			c := next[l]
			next[l]++
			rev := int(bits.Reverse16(uint16(c)) >> (16 - l))
			e := sym(s)
			if l <= pbits {
				e |= uint32(l)
				for i := rev; i < psize; i += 1 << l {
					tab[i] = e
				}
				continue
			}
			prefix := rev & (psize - 1)
			link := tab[prefix]
			if link&entLink == 0 {
				// First code with this prefix: a new subtable.
				link = entLink | entNotLit | uint32(end)<<16 | uint32(subBits)<<4 | uint32(pbits)
				tab[prefix] = link
				for i := end; i < end+1<<subBits; i++ {
					tab[i] = entInvalid | entNotLit
				}
				end += 1 << subBits
			}
			off := int(link >> 16)
			rl := l - pbits
			e |= uint32(rl)
			for i := rev >> pbits; i < 1<<subBits; i += 1 << rl {
				tab[off+i] = e
			}
		}
	}
	return pbits, nil
}

// litSym is the table value of literal/length symbol s.
func litSym(s int) uint32 {
	switch {
	case s < 256:
		return uint32(s) << 16
	case s == 256:
		return entNotLit | entEOB
	case s <= 285:
		i := s - 257
		return entNotLit | uint32(lengthBase[i])<<16 | uint32(lengthExtra[i])<<4
	default:
		return entNotLit | entInvalid
	}
}

// distSym is the table value of distance symbol s.
func distSym(s int) uint32 {
	if s >= 30 {
		return entNotLit | entInvalid
	}
	return uint32(distBase[s])<<16 | uint32(distExtra[s])<<4
}

// clSym is the table value of code length symbol s.
func clSym(s int) uint32 { return uint32(s) << 16 }

func initFixedTables() {
	var lens [numLitCodes]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	fixedLit = new([litTableMax]uint32)
	var err error
	if fixedLitBits, err = buildTable(fixedLit[:], lens[:], litTableBits, litSym); err != nil {
		panic("deflate: fixed literal table: " + err.Error())
	}
	var dl [numDistCodes]uint8
	for i := range dl {
		dl[i] = 5
	}
	fixedDist = new([distTableMax]uint32)
	if fixedDistBits, err = buildTable(fixedDist[:], dl[:], distTableBits, distSym); err != nil {
		panic("deflate: fixed distance table: " + err.Error())
	}
}

// wholeInflater decodes one message held entirely in memory.
type wholeInflater struct {
	in   []byte
	pos  int    // next input byte to load into the bit buffer
	bits uint64 // bit buffer, next bit lowest
	nb   uint   // valid bits in bits (including virtual zero bytes)
	virt uint   // bits of zero bytes loaded past the end of in

	out     []byte // inflateBufSize bytes
	w       int    // write position in out
	flushed int    // out[:flushed] is window only (already emitted)

	lit      *[litTableMax]uint32 // current tables and their primary bits
	dist     *[distTableMax]uint32
	litBits  uint
	distBits uint
	litTab   [litTableMax]uint32 // tables of the current dynamic block
	distTab  [distTableMax]uint32
	clTab    [1 << 7]uint32
}

func getWholeInflater() *wholeInflater {
	if f, ok := wholeInflaterPool.Get().(*wholeInflater); ok {
		return f
	}
	fixedTablesOnce.Do(initFixedTables)
	return &wholeInflater{out: make([]byte, inflateBufSize)}
}

func putWholeInflater(f *wholeInflater) {
	f.in = nil
	wholeInflaterPool.Put(f)
}

// refill tops the bit buffer up to at least 56 bits, padding with zero bytes
// past the end of the input (counted in virt).
func (f *wholeInflater) refill() {
	if f.pos+8 <= len(f.in) {
		f.bits |= binary.LittleEndian.Uint64(f.in[f.pos:]) << f.nb
		f.pos += int(63-f.nb) >> 3
		f.nb |= 56
		return
	}
	for f.nb <= 56 {
		if f.pos < len(f.in) {
			f.bits |= uint64(f.in[f.pos]) << f.nb
			f.pos++
		} else {
			f.virt += 8
		}
		f.nb += 8
	}
}

// overrun reports whether bits past the end of the input were consumed.
func (f *wholeInflater) overrun() bool { return f.nb < f.virt }

// take consumes n bits (n <= 32; refill first).
func (f *wholeInflater) take(n uint) uint32 {
	v := uint32(f.bits & (1<<n - 1))
	f.bits >>= n
	f.nb -= n
	return v
}

// inflate decodes in, with window (at most windowSize bytes) as the history
// before it, and writes the output to s in pieces. It returns nil when the
// final block ended, io.ErrUnexpectedEOF when the input ended first, or
// another error for invalid data or from s.
func (f *wholeInflater) inflate(in, window []byte, s *sink) error {
	f.in, f.pos, f.bits, f.nb, f.virt = in, 0, 0, 0, 0
	f.w = copy(f.out, window)
	f.flushed = f.w
	for {
		f.refill()
		if f.overrun() {
			return io.ErrUnexpectedEOF
		}
		final := f.take(1)
		var err error
		switch f.take(2) {
		case 0:
			err = f.stored(s)
		case 1:
			f.lit, f.litBits = fixedLit, fixedLitBits
			f.dist, f.distBits = fixedDist, fixedDistBits
			err = f.huffman(s)
		case 2:
			if err = f.dynamicHeader(); err == nil {
				err = f.huffman(s)
			}
		default:
			err = errBadBlockType
		}
		if err != nil {
			return err
		}
		if final == 1 {
			return f.flush(s)
		}
	}
}

// flush emits the output not yet emitted and, when the buffer is getting
// full, keeps only the last windowSize bytes.
func (f *wholeInflater) flush(s *sink) error {
	if f.w > f.flushed {
		if _, err := s.Write(f.out[f.flushed:f.w]); err != nil {
			return err
		}
	}
	if f.w > windowSize {
		f.w = copy(f.out, f.out[f.w-windowSize:f.w])
	}
	f.flushed = f.w
	return nil
}

// stored copies a stored block's data.
func (f *wholeInflater) stored(s *sink) error {
	// Drop to a byte boundary, then give back the whole bytes held in the
	// bit buffer to read the rest straight from the input.
	f.take(f.nb & 7)
	if f.virt > f.nb {
		return io.ErrUnexpectedEOF
	}
	f.pos -= int(f.nb-f.virt) >> 3
	f.bits, f.nb, f.virt = 0, 0, 0
	if f.pos+4 > len(f.in) {
		return io.ErrUnexpectedEOF
	}
	n := int(binary.LittleEndian.Uint16(f.in[f.pos:]))
	if uint16(n) != ^binary.LittleEndian.Uint16(f.in[f.pos+2:]) {
		return errBadStoredLen
	}
	f.pos += 4
	for n > 0 {
		if f.pos >= len(f.in) {
			return io.ErrUnexpectedEOF
		}
		if f.w+inflateSlack >= len(f.out) {
			if err := f.flush(s); err != nil {
				return err
			}
		}
		k := copy(f.out[f.w:len(f.out)-inflateSlack], f.in[f.pos:min(f.pos+n, len(f.in))])
		f.w += k
		f.pos += k
		n -= k
	}
	return nil
}

// dynamicHeader reads a dynamic block's code lengths and builds its tables.
func (f *wholeInflater) dynamicHeader() error {
	f.refill()
	nlit := int(f.take(5)) + 257
	ndist := int(f.take(5)) + 1
	ncl := int(f.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		return errTooManyCodes
	}
	var cl [numCLCodes]uint8
	for i := 0; i < ncl; i++ {
		if f.nb < 3 {
			f.refill()
		}
		cl[clOrder[i]] = uint8(f.take(3))
	}
	clBits, err := buildTable(f.clTab[:], cl[:], 7, clSym)
	if err != nil {
		return err
	}
	if cl == [numCLCodes]uint8{} {
		return errBadCodeLens
	}
	var lens [numLitCodes + numDistCodes]uint8
	n := nlit + ndist
	for i := 0; i < n; {
		f.refill()
		if f.overrun() {
			return io.ErrUnexpectedEOF
		}
		e := f.clTab[f.bits&(1<<clBits-1)]
		if e&entInvalid != 0 {
			return errInvalidCode
		}
		f.take(uint(e & 15))
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return errBadRepeat
			}
			val = lens[i-1]
			rep = 3 + int(f.take(2))
		case 17:
			rep = 3 + int(f.take(3))
		default:
			rep = 11 + int(f.take(7))
		}
		if i+rep > n {
			return errBadCodeLens
		}
		for ; rep > 0; rep-- {
			lens[i] = val
			i++
		}
	}
	if f.overrun() {
		return io.ErrUnexpectedEOF
	}
	if lens[256] == 0 {
		return errNoEndOfBlock
	}
	lb, err := buildTable(f.litTab[:], lens[:nlit], litTableBits, litSym)
	if err != nil {
		return err
	}
	db, err := buildTable(f.distTab[:], lens[nlit:n], distTableBits, distSym)
	if err != nil {
		return err
	}
	f.lit, f.litBits = &f.litTab, lb
	f.dist, f.distBits = &f.distTab, db
	return nil
}

// huffman decodes the symbols of a Huffman-coded block up to its end.
func (f *wholeInflater) huffman(s *sink) error {
	lit, litMask := f.lit, uint64(1)<<f.litBits-1
	dist, distMask := f.dist, uint64(1)<<f.distBits-1
	out := f.out
	w := f.w
	limit := len(out) - inflateSlack
	// The bit buffer lives in locals in the loop.
	in, pos, bb, nb := f.in, f.pos, f.bits, f.nb
	for {
		// Refill to at least 56 bits: enough for one length code (15),
		// its extra bits (5), a distance code (15) and its extra bits (13).
		if pos+8 <= len(in) {
			bb |= binary.LittleEndian.Uint64(in[pos:]) << nb
			pos += int(63-nb) >> 3
			nb |= 56
		} else {
			f.pos, f.bits, f.nb = pos, bb, nb
			f.refill()
			if f.overrun() {
				return io.ErrUnexpectedEOF
			}
			pos, bb, nb = f.pos, f.bits, f.nb
		}
		if w > limit {
			f.w = w
			if err := f.flush(s); err != nil {
				return err
			}
			w = f.w
		}
		e := lit[bb&litMask&(litTableMax-1)]
		if e&entLink != 0 {
			pb := uint(e & 15)
			bb >>= pb
			nb -= pb
			e = lit[(uint64(e>>16)+bb&(1<<((e>>4)&15)-1))&(litTableMax-1)]
		}
		n := uint(e & 15)
		bb >>= n
		nb -= n
		if e&entNotLit == 0 {
			out[w] = byte(e >> 16)
			w++
			// A second literal with the bits left, if enough remain for
			// the longest code.
			if nb >= maxCodeBits {
				e = lit[bb&litMask&(litTableMax-1)]
				if e&(entNotLit|entLink) == 0 {
					n = uint(e & 15)
					bb >>= n
					nb -= n
					out[w] = byte(e >> 16)
					w++
				}
			}
			continue
		}
		if e&(entEOB|entInvalid) != 0 {
			f.pos, f.bits, f.nb, f.w = pos, bb, nb, w
			if f.overrun() {
				return io.ErrUnexpectedEOF
			}
			if e&entInvalid != 0 {
				return errInvalidCode
			}
			return nil
		}
		x := uint((e >> 4) & 15)
		length := int(e>>16) + int(bb&(1<<x-1))
		bb >>= x
		nb -= x

		e = dist[bb&distMask&(distTableMax-1)]
		if e&entLink != 0 {
			pb := uint(e & 15)
			bb >>= pb
			nb -= pb
			e = dist[(uint64(e>>16)+bb&(1<<((e>>4)&15)-1))&(distTableMax-1)]
		}
		n = uint(e & 15)
		bb >>= n
		nb -= n
		if e&entInvalid != 0 {
			f.pos, f.bits, f.nb = pos, bb, nb
			if f.overrun() {
				return io.ErrUnexpectedEOF
			}
			return errInvalidCode
		}
		x = uint((e >> 4) & 15)
		d := int(e>>16) + int(bb&(1<<x-1))
		bb >>= x
		nb -= x
		if d > w {
			f.pos, f.bits, f.nb = pos, bb, nb
			if f.overrun() {
				return io.ErrUnexpectedEOF
			}
			return errDistTooFar
		}
		src := w - d
		switch {
		case d >= 8:
			// Word copies: each reads bytes at least 8 back, which are
			// already final; the last may write up to 7 bytes past the
			// match, into the slack.
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[w+i:], binary.LittleEndian.Uint64(out[src+i:]))
			}
		case d == 1:
			b := out[src]
			for i := w; i < w+length; i++ {
				out[i] = b
			}
		default:
			for i := 0; i < length; i++ {
				out[w+i] = out[src+i]
			}
		}
		w += length
	}
}
