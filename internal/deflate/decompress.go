package deflate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/klauspost/compress/flate"
)

var (
	// ErrTooLarge is returned when a message inflates to more than the
	// limit given to [Decompressor.Write] or [Decompressor.Finish]; the
	// server closes the connection with status 1009. Returned errors wrap it
	// with the limit; test with errors.Is.
	ErrTooLarge = errors.New("deflate: decompressed message too large")
	// ErrCorrupt is returned when a message is not valid DEFLATE data
	// (RFC 1951) or does not end on a block boundary as RFC 7692 section
	// 7.2.2 requires; the server closes the connection with status 1007.
	// Returned errors wrap it with the cause; test with errors.Is.
	ErrCorrupt = errors.New("deflate: corrupt compressed message")

	errClosed = errors.New("deflate: decompressor used after Close")
)

const (
	// windowSize is the largest LZ77 window, 2^15 bytes; a 32 KiB history
	// decodes streams made with any smaller window.
	windowSize = 1 << MaxWindowBits
	// minHistoryBits is the smallest history kept for context takeover.
	// zlib turns a requested window of 2^8 into 2^9 (RFC 7692 section
	// 7.1.2.2 notes this), so 2^9 bytes are kept even when 8 was negotiated.
	minHistoryBits = 9
	// streamMin is how many compressed bytes of a message are buffered
	// before Write starts inflating ahead of Finish. Messages smaller than
	// this are inflated once, in Finish, which is the fast path.
	streamMin = 32 << 10
	// checkpointStride is the least compressed distance between two saved
	// resume points. Saving one copies up to 32 KiB of window, so a stream
	// of tiny DEFLATE blocks must not save one per block.
	checkpointStride = 16 << 10
	// pendingSlack is added to twice the limit to bound the compressed bytes
	// held for one message (see Decompressor).
	pendingSlack = checkpointStride + 16<<10
	// maxPooledInput is the largest input buffer returned to the pool.
	maxPooledInput = 1 << 20
)

// finishTail is appended to every message: the 0x00 0x00 0xff 0xff removed by
// the sender (RFC 7692 section 7.2.2), then an empty stored block with BFINAL
// set. A well-formed message therefore always ends the DEFLATE stream cleanly
// (io.EOF from the inflater), and a message cut inside a block does not.
var finishTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// emptyInput is the input of pooled inflaters, so that they keep no
// reference to a connection. Nothing ever reads from it.
var emptyInput = bytes.NewReader(nil)

// resumableReader is the inflater of github.com/klauspost/compress/flate
// with its checkpoint API.
type resumableReader interface {
	io.ReadCloser
	io.WriterTo
	ResetCP(r io.Reader, cp flate.InflateCheckpoint) error
}

var (
	readerPool sync.Pool // resumableReader, idle inflaters
	inputPool  sync.Pool // *[]byte, compressed message buffers
	windowPool sync.Pool // *[]byte with capacity windowSize
)

// getReader returns an idle inflater.
func getReader() resumableReader {
	if r, ok := readerPool.Get().(resumableReader); ok {
		return r
	}
	r, ok := flate.NewReader(emptyInput).(resumableReader)
	if !ok {
		panic("deflate: flate reader lacks ResetCP; github.com/klauspost/compress v1.20.4 or later is required")
	}
	return r
}

// putReader detaches r from its input and returns it to the pool.
func putReader(r resumableReader) {
	_ = r.ResetCP(emptyInput, flate.InflateCheckpoint{})
	readerPool.Put(r)
}

// getWindow returns an empty buffer with capacity windowSize.
func getWindow() *[]byte {
	if b, ok := windowPool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, windowSize)
	return &b
}

// history is the ring of the last len(buf) decompressed bytes, kept between
// messages for context takeover.
type history struct {
	buf  []byte // allocated on first write
	size int
	pos  int // next write position
	full bool
}

// write appends p to the ring.
func (h *history) write(p []byte) {
	if h.buf == nil {
		h.buf = make([]byte, h.size)
	}
	if len(p) >= len(h.buf) {
		copy(h.buf, p[len(p)-len(h.buf):])
		h.pos, h.full = 0, true
		return
	}
	n := copy(h.buf[h.pos:], p)
	if n < len(p) {
		h.pos = copy(h.buf, p[n:])
		h.full = true
		return
	}
	h.pos += n
	if h.pos == len(h.buf) {
		h.pos, h.full = 0, true
	}
}

// wrapped reports whether the content does not start at buf[0].
func (h *history) wrapped() bool { return h.full && h.pos != 0 }

// view returns the content, oldest byte first, when it is not wrapped.
func (h *history) view() []byte {
	if h.full {
		return h.buf
	}
	return h.buf[:h.pos]
}

// appendTo appends the content, oldest byte first, to dst.
func (h *history) appendTo(dst []byte) []byte {
	if !h.full {
		return append(dst, h.buf[:h.pos]...)
	}
	dst = append(dst, h.buf[h.pos:]...)
	return append(dst, h.buf[:h.pos]...)
}

// sink receives the inflater's output (through io.WriterTo), drops what an
// earlier pass already delivered, enforces the limit, records history and
// hands the rest to emit.
type sink struct {
	d     *Decompressor
	skip  int64
	limit int64
	emit  func([]byte) error
	err   error // the error Write returned, if any
}

// Write implements io.Writer for the inflater's WriteTo.
func (s *sink) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip > 0 {
		if int64(len(p)) <= s.skip {
			s.skip -= int64(len(p))
			return n, nil
		}
		p = p[s.skip:]
		s.skip = 0
	}
	d := s.d
	if s.limit > 0 && d.emitted+int64(len(p)) > s.limit {
		s.err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.limit)
		return 0, s.err
	}
	d.emitted += int64(len(p))
	if d.takeover {
		d.hist.write(p)
	}
	if err := s.emit(p); err != nil {
		s.err = err
		return 0, err
	}
	return n, nil
}

// Decompressor inflates the messages of one connection in the client's
// direction: it honours Params.ClientNoContextTakeover and
// Params.ClientMaxWindowBits. With context takeover it keeps the last
// 2^ClientMaxWindowBits bytes (at most 32 KiB, at least 512) of output as the
// dictionary of the next message; without it, an idle Decompressor holds no
// buffer at all. Inflaters and buffers come from process-wide pools.
//
// # Streaming
//
// A message arrives in frames and partial frames, and its decompressed data
// is delivered as it becomes available. The inflater of
// github.com/klauspost/compress/flate cannot pause when its input runs dry
// (running out is final for it), so the Decompressor works with resume
// points instead: the compressed bytes of the message are kept from the last
// resume point on, and inflating starts again from that point whenever it is
// attempted. Resume points are DEFLATE block boundaries reported by the
// inflater's end-of-block callback, with the window at that point; output
// that an earlier attempt already delivered is not delivered again.
//
// Write only appends while fewer than 32 KiB of compressed data are held,
// so a message of a few frames is inflated exactly once, by Finish, with a
// pooled inflater and no allocation. Finish then uses the package's own
// whole-message decoder (inflate.go), which reads the input a word at a
// time and decodes into a 256 KiB buffer, handed to emit whenever it fills
// up; under SetWholeMessages every message takes that path. Beyond that,
// Write inflates ahead, then again each time the held data reaches twice what the previous attempt
// left unconsumed, and at least 32 KiB. The total work stays within about
// twice that of one pass, and the held data stays near 32 KiB plus the
// unfinished DEFLATE block. Each attempt ahead allocates a new inflater
// (about 75 KiB, short-lived), because the end-of-block callback cannot be
// set on a pooled one.
//
// The inflater also works at a fixed 32 KiB window, which decodes streams
// made with any smaller window (RFC 7692 section 7.1.2.2), so only the
// history kept between messages depends on ClientMaxWindowBits.
//
// # Limits
//
// The limit passed to Write and Finish bounds the decompressed size of one
// message (0 means no limit). Output is checked as the inflater produces it,
// at most 32 KiB at a time when inflating ahead and at most 256 KiB at a
// time in Finish, so a decompression bomb is stopped right after crossing
// the limit, without inflating the rest; nothing past the limit is emitted.
// The compressed bytes held are bounded too: no valid DEFLATE block needs
// more than 16 bits per output byte plus a few hundred bytes of header, so
// when more than 2*limit+32 KiB would have to be held the message must
// exceed the limit, and ErrTooLarge is returned.
//
// After any error the message and connection are lost: the Decompressor
// keeps returning that error. A Decompressor is not safe for concurrent use.
type Decompressor struct {
	takeover bool
	hist     history

	// Current message.
	in      []byte  // compressed bytes from absolute offset base on
	inBuf   *[]byte // pooled backing of in, nil when none is held
	base    int64
	cp      flate.InflateCheckpoint // resume point; Window set when cpWin != nil
	cpWin   *[]byte                 // pooled buffer of cp.Window
	emitted int64                   // decompressed bytes delivered
	nextTry int                     // len(in) at which Write inflates ahead
	whole   bool                    // SetWholeMessages: inflate only in Finish
	done    bool                    // the final DEFLATE block was inflated

	err   error
	src   bytes.Reader
	sink  sink
	onEOB func(flate.InflateCheckpoint)

	account func(delta int64) error // SetAccount's function, nil when none
	held    int64                   // bytes held between calls: input, window, history
}

// SetAccount makes d report the memory it holds between calls (the
// compressed input of the message, the resume window, the context-takeover
// history) to account, as changes in bytes, before it allocates and after it
// lets go. account may refuse a growth by returning an error: the Write or
// Finish that needed it then fails with that error, and d is failed as by
// any error. A release (a negative delta) cannot be refused. Set it before
// the first Write; nil stops the reports. Close gives back everything held.
func (d *Decompressor) SetAccount(account func(delta int64) error) { d.account = account }

// Held returns the bytes d holds between calls, as reported to SetAccount's
// function.
func (d *Decompressor) Held() int64 { return d.held }

// hold records a change of n bytes in what d holds, asking the account
// first when it grows.
func (d *Decompressor) hold(n int64) error {
	if n == 0 {
		return nil
	}
	if d.account != nil {
		if err := d.account(n); err != nil && n > 0 {
			return err
		}
	}
	d.held += n
	return nil
}

// NewDecompressor returns a Decompressor for the negotiated params.
func NewDecompressor(params Params) *Decompressor {
	d := &Decompressor{takeover: !params.ClientNoContextTakeover, nextTry: streamMin}
	if d.takeover {
		d.hist.size = 1 << max(windowBitsOrMax(params.ClientMaxWindowBits), minHistoryBits)
	}
	d.sink.d = d
	d.onEOB = d.saveResumePoint
	return d
}

// Write feeds p, the next compressed payload bytes of the current message
// (any part of any frame), and calls emit with decompressed data as it
// becomes available; emit's argument is valid only during the call. If emit
// returns an error, Write returns it. limit bounds the decompressed size of
// the message, 0 meaning no limit; crossing it returns an error wrapping
// ErrTooLarge. Invalid data is reported with an error wrapping ErrCorrupt,
// by Write or at the latest by Finish (small messages are only inflated by
// Finish). Write does not retain p.
func (d *Decompressor) Write(p []byte, limit int64, emit func([]byte) error) error {
	if d.err != nil {
		return d.err
	}
	if d.done || len(p) == 0 {
		return nil // data after the final block is ignored
	}
	d.grabInput()
	if err := d.growInput(len(p)); err != nil {
		d.fail(err)
		return err
	}
	d.in = append(d.in, p...)
	bound := pendingBound(limit)
	if (d.whole || len(d.in) < d.nextTry) && int64(len(d.in)) <= bound {
		return nil
	}
	err := d.inflate(false, limit, emit)
	if err == nil && int64(len(d.in)) > bound {
		err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	if err != nil {
		d.fail(err)
	}
	return err
}

// SetWholeMessages makes Write only collect compressed bytes (within the
// limit's bound) and Finish inflate the message in one pass: the cheapest
// way when the caller wants whole messages anyway, as the server does with
// BufferMessage. Streaming (the default) delivers output as it arrives, at
// the cost of inflating large messages from resume points.
func (d *Decompressor) SetWholeMessages(on bool) { d.whole = on }

// Finish ends the current message (the frame with FIN set has been fed): it
// appends the 0x00 0x00 0xff 0xff removed by the sender (RFC 7692 section
// 7.2.2), inflates and emits the rest of the message, checks that the
// message ended on a DEFLATE block boundary, and prepares for the next
// message. limit and emit are as for Write. A message with no payload at all
// is accepted as empty, although a compressor sends 0x00 for that (RFC 7692
// section 7.2.3.6).
func (d *Decompressor) Finish(limit int64, emit func([]byte) error) error {
	if d.err != nil {
		return d.err
	}
	if !d.done && (len(d.in) > 0 || d.base > 0) {
		d.grabInput()
		if err := d.growInput(len(finishTail)); err != nil {
			d.fail(err)
			return err
		}
		d.in = append(d.in, finishTail...)
		if err := d.inflate(true, limit, emit); err != nil {
			d.fail(err)
			return err
		}
	}
	d.endMessage()
	return nil
}

// Close releases the Decompressor's buffers; it must not be used afterwards.
func (d *Decompressor) Close() {
	d.endMessage()
	d.hold(-int64(len(d.hist.buf)))
	d.hist = history{}
	d.err = errClosed
}

// pendingBound is the most compressed bytes held for one message under
// limit: a DEFLATE block never takes more than two bytes per output byte
// plus its header, and resume points are at most checkpointStride apart.
func pendingBound(limit int64) int64 {
	if limit <= 0 || limit > (math.MaxInt64-pendingSlack)/2 {
		return math.MaxInt64
	}
	return 2*limit + pendingSlack
}

// inflate inflates d.in from the resume point d.cp. With final false the
// input may stop anywhere: running dry is not an error, new resume points are
// saved and the bytes before the last one dropped. With final true d.in ends
// with finishTail and the stream must end cleanly.
func (d *Decompressor) inflate(final bool, limit int64, emit func([]byte) error) error {
	if d.takeover && d.hist.buf == nil {
		// The history this message's output goes to, made here rather
		// than by its first write so that the account is asked first.
		if err := d.hold(int64(d.hist.size)); err != nil {
			return err
		}
		d.hist.buf = make([]byte, d.hist.size)
	}
	d.sink.skip = d.emitted - d.cp.UncompressedOffset
	d.sink.limit, d.sink.emit, d.sink.err = limit, emit, nil
	defer func() { d.sink.emit = nil }()
	d.src.Reset(d.in)

	var err error
	if final && d.cpWin == nil {
		// The whole message is in d.in and nothing was emitted yet: decode
		// it in one pass, with the history as the window.
		f := getWholeInflater()
		var window []byte
		var scratch *[]byte
		if d.takeover && d.hist.buf != nil {
			if d.hist.wrapped() {
				scratch = getWindow()
				window = d.hist.appendTo((*scratch)[:0])
			} else {
				window = d.hist.view()
			}
		}
		err = f.inflate(d.in, window, &d.sink)
		if scratch != nil {
			windowPool.Put(scratch)
		}
		putWholeInflater(f)
	} else if final {
		// Write inflated ahead: resume from its last resume point.
		r := getReader()
		err = r.ResetCP(&d.src, d.cp)
		if err == nil {
			_, err = r.WriteTo(&d.sink)
		}
		putReader(r)
	} else {
		if d.cpWin == nil {
			// This attempt's output changes the history, and a later
			// attempt may have to resume from the start of the message:
			// keep a copy of the starting window.
			if err := d.hold(windowSize); err != nil {
				return err
			}
			d.cpWin = getWindow()
			w := (*d.cpWin)[:0]
			if d.takeover && d.hist.buf != nil {
				w = d.hist.appendTo(w)
			}
			d.cp.Window = w
		}
		r := flate.NewReaderOpts(&d.src, flate.WithEobCallback(d.onEOB), flate.WithResumeFrom(d.cp))
		_, err = r.(io.WriterTo).WriteTo(&d.sink)
	}
	d.src.Reset(nil)

	switch {
	case d.sink.err != nil:
		return d.sink.err
	case err == nil:
		// The final block was inflated; whatever follows is ignored.
		d.done = true
		if !final {
			d.releaseInput()
		}
		return nil
	case !final && errors.Is(err, io.ErrUnexpectedEOF):
		// Out of input inside a block: wait for more, from the resume
		// point on.
		d.dropBeforeResumePoint()
		d.nextTry = max(streamMin, 2*len(d.in))
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: message ends inside a DEFLATE block", ErrCorrupt)
	default:
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
}

// saveResumePoint is the inflater's end-of-block callback. It keeps cp as
// the new resume point if it is at least checkpointStride past the current
// one; cp.Window is only valid during the call, so it is copied.
func (d *Decompressor) saveResumePoint(cp flate.InflateCheckpoint) {
	if cp.CompressedOffset-d.cp.CompressedOffset < checkpointStride {
		return
	}
	w := append((*d.cpWin)[:0], cp.Window...)
	*d.cpWin = w
	cp.Window = w
	d.cp = cp
}

// dropBeforeResumePoint discards the held bytes that precede the resume
// point's byte.
func (d *Decompressor) dropBeforeResumePoint() {
	k := int(d.cp.CompressedOffset - d.base)
	if k <= 0 {
		return
	}
	n := copy(d.in, d.in[k:])
	d.in = d.in[:n]
	d.base = d.cp.CompressedOffset
}

// grabInput makes sure a pooled input buffer backs d.in. A pooled buffer
// the account refuses goes back: d.in then starts empty and grows as it
// must (growInput).
func (d *Decompressor) grabInput() {
	if d.inBuf != nil {
		return
	}
	b, ok := inputPool.Get().(*[]byte)
	if ok && d.hold(int64(cap(*b))) != nil {
		inputPool.Put(b)
		ok = false
	}
	if !ok {
		b = new([]byte)
	}
	d.inBuf = b
	d.in = (*b)[:0]
}

// growInput makes room in d.in for n more bytes, asking the account for
// the growth first.
func (d *Decompressor) growInput(n int) error {
	need := len(d.in) + n
	if need <= cap(d.in) {
		return nil
	}
	c := cap(d.in)
	grown := max(need, 4096, 2*c)
	if c >= 1<<20 {
		grown = max(need, c+c/4) // as append grows large slices
	}
	if err := d.hold(int64(grown - c)); err != nil {
		return err
	}
	in := make([]byte, len(d.in), grown)
	copy(in, d.in)
	d.in = in
	return nil
}

// releaseInput returns the input buffer to the pool.
func (d *Decompressor) releaseInput() {
	if d.inBuf == nil {
		return
	}
	d.hold(-int64(cap(d.in)))
	if cap(d.in) <= maxPooledInput {
		*d.inBuf = d.in[:0]
		inputPool.Put(d.inBuf)
	}
	d.inBuf, d.in = nil, nil
}

// endMessage resets the per-message state and releases its buffers.
func (d *Decompressor) endMessage() {
	d.releaseInput()
	if d.cpWin != nil {
		*d.cpWin = (*d.cpWin)[:0]
		windowPool.Put(d.cpWin)
		d.cpWin = nil
		d.hold(-windowSize)
	}
	d.base = 0
	d.cp = flate.InflateCheckpoint{}
	d.emitted = 0
	d.nextTry = streamMin
	d.done = false
}

// fail makes err sticky and releases the message's buffers.
func (d *Decompressor) fail(err error) {
	d.endMessage()
	d.err = err
}
