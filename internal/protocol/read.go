package protocol

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

// Handler receives what a Reader finds in the client's bytes. A non-nil error
// from any method stops Feed, which returns it.
type Handler interface {
	// OnData receives the next piece of a data message of type op (OpText or
	// OpBinary, the same for every piece); fin marks the last piece. p is the
	// reader's own memory (unmasked, and inflated when compressed), valid only
	// during the call. Text pieces passed the UTF-8 check so far, but a piece
	// may end inside a multi-byte sequence that the next piece completes.
	OnData(op Opcode, p []byte, fin bool) error
	// OnPing receives the payload of a ping (RFC 6455 section 5.5.2).
	OnPing(p []byte) error
	// OnPong receives the payload of a pong (RFC 6455 section 5.5.3).
	OnPong(p []byte) error
	// OnClose receives a validated close frame: its code (CloseNoStatus when
	// it had none) and reason. The Reader ignores all bytes after it.
	OnClose(code int, reason []byte) error
}

// Inflater decompresses the messages of a connection that negotiated
// permessage-deflate (RFC 7692). Write takes compressed bytes of the current
// message and Finish ends it; both pass inflated bytes to emit and stop once
// a message would exceed limit bytes (0: no limit). An error that is a
// *CloseError is reported as it is; any other error as invalid payload (1007).
type Inflater interface {
	Write(p []byte, limit int64, emit func([]byte) error) error
	Finish(limit int64, emit func([]byte) error) error
}

// Reader parses the frames a client sends (RFC 6455 section 5) and enforces
// every rule of the protocol on them: masking, reserved bits and opcodes,
// control frame limits, fragmentation order, UTF-8 in text messages and close
// frames, and the maximum message size. It does no I/O: Feed takes whatever
// bytes arrived, in any split, and calls the Handler as frames complete.
// A Reader is not safe for concurrent use.
type Reader struct {
	// MaxMessageSize bounds the size of a message after decompression; a
	// larger one fails with CloseTooBig (1009). 0 means no limit.
	MaxMessageSize int64

	inflater Inflater
	emit     func([]byte) error // r.emitInflated, bound once
	h        Handler            // the handler of the Feed in progress

	hdr  [MaxHeaderSize]byte // a header that arrived split
	hdrN int

	inFrame   bool // a header was parsed; its payload is pending
	fin       bool
	op        Opcode
	key       [4]byte
	keyPos    int
	remaining uint64

	inMessage  bool // a data message is in progress
	msgOp      Opcode
	compressed bool
	size       int64
	utf8       UTF8Validator

	ctrl  *[MaxControlPayload]byte // a control payload split across Feeds, allocated on first need
	ctrlN int

	closed bool // a close frame was received
	err    error
}

// SetInflater enables permessage-deflate: frames with RSV1 set begin
// compressed messages that inf decompresses. A nil inf disables it, and RSV1
// is then a protocol error.
func (r *Reader) SetInflater(inf Inflater) {
	r.inflater = inf
	if inf != nil && r.emit == nil {
		r.emit = r.emitInflated
	}
}

// Closed reports whether a close frame was received.
func (r *Reader) Closed() bool { return r.closed }

// FrameRemaining returns how many payload bytes of the current frame have
// not arrived yet, so that a caller can size its buffers for them.
func (r *Reader) FrameRemaining() uint64 {
	if !r.inFrame {
		return 0
	}
	return r.remaining
}

// MessageCompressed reports whether the current data message is compressed.
func (r *Reader) MessageCompressed() bool { return r.compressed }

// MessageOp returns the opcode of the current or last data message.
func (r *Reader) MessageOp() Opcode { return r.msgOp }

// InMessage reports whether a data message has begun but not ended.
func (r *Reader) InMessage() bool { return r.inMessage }

// Feed parses p, which it may modify (payloads are unmasked in place), and
// calls h for what it finds. It consumes all of p, keeping a partial frame
// header internally. It returns a *CloseError for a protocol violation, or the
// handler's error; after an error the Reader must not be fed again. Bytes after
// a close frame are ignored.
func (r *Reader) Feed(p []byte, h Handler) error {
	if r.err != nil {
		return r.err
	}
	r.h = h
	for len(p) > 0 && !r.closed {
		if !r.inFrame {
			n, err := r.readHeader(p)
			p = p[n:]
			if err != nil {
				r.err = err
				return err
			}
			if !r.inFrame {
				break // need more header bytes
			}
			if r.remaining == 0 {
				if err := r.payload(nil); err != nil {
					r.err = err
					return err
				}
			}
			continue
		}
		n := len(p)
		if uint64(n) > r.remaining {
			n = int(r.remaining)
		}
		chunk := p[:n]
		p = p[n:]
		r.keyPos = Mask(r.key, r.keyPos, chunk)
		r.remaining -= uint64(n)
		if err := r.payload(chunk); err != nil {
			r.err = err
			return err
		}
	}
	r.h = nil
	return nil
}

// headerLen returns the full length of a header whose first two bytes are b0, b1.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7F {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// readHeader consumes header bytes from p, parsing the header directly from p
// when it is whole there, and returns how many bytes it used.
func (r *Reader) readHeader(p []byte) (int, error) {
	if r.hdrN == 0 && len(p) >= 2 {
		if n := headerLen(p[1]); len(p) >= n {
			return n, r.parseHeader(p[:n])
		}
	}
	used := 0
	for {
		need := 2
		if r.hdrN >= 2 {
			need = headerLen(r.hdr[1])
		}
		if r.hdrN == need {
			r.hdrN = 0
			return used, r.parseHeader(r.hdr[:need])
		}
		if used == len(p) {
			return used, nil
		}
		c := copy(r.hdr[r.hdrN:need], p[used:])
		r.hdrN += c
		used += c
	}
}

// parseHeader applies the rules of RFC 6455 sections 5.1 to 5.5 to a whole header.
func (r *Reader) parseHeader(b []byte) error {
	b0, b1 := b[0], b[1]
	fin := b0&0x80 != 0
	rsv1 := b0&0x40 != 0
	op := Opcode(b0 & 0x0F)
	if b0&0x30 != 0 {
		return protocolError("reserved bits RSV2/RSV3 set without a negotiated extension")
	}
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return protocolError("reserved opcode 0x" + strconv.FormatUint(uint64(op), 16))
	}
	if b1&0x80 == 0 {
		return protocolError("client frame is not masked")
	}
	var length uint64
	switch l := b1 & 0x7F; l {
	case 126:
		length = uint64(binary.BigEndian.Uint16(b[2:]))
		if length < 126 {
			return protocolError("frame length not in its shortest form")
		}
	case 127:
		length = binary.BigEndian.Uint64(b[2:])
		if length > math.MaxInt64 {
			return protocolError("frame length has its most significant bit set")
		}
		if length <= 0xFFFF {
			return protocolError("frame length not in its shortest form")
		}
	default:
		length = uint64(l)
	}
	copy(r.key[:], b[len(b)-4:])
	r.keyPos = 0

	if op.IsControl() {
		if !fin {
			return protocolError("fragmented control frame")
		}
		if length > MaxControlPayload {
			return protocolError("control frame payload over 125 bytes")
		}
		if rsv1 {
			return protocolError("RSV1 set on a control frame")
		}
		r.ctrlN = 0
	} else {
		if op == OpContinuation {
			if !r.inMessage {
				return protocolError("continuation frame without a message in progress")
			}
			if rsv1 {
				return protocolError("RSV1 set on a continuation frame")
			}
		} else {
			if r.inMessage {
				return protocolError("new data frame while a fragmented message is in progress")
			}
			if rsv1 && r.inflater == nil {
				return protocolError("RSV1 set but permessage-deflate was not negotiated")
			}
			r.inMessage = true
			r.msgOp = op
			r.compressed = rsv1
			r.size = 0
			r.utf8.Reset()
		}
		if !r.compressed && r.MaxMessageSize > 0 && uint64(r.size)+length > uint64(r.MaxMessageSize) {
			return &CloseError{Code: CloseTooBig, Reason: "message exceeds " + strconv.FormatInt(r.MaxMessageSize, 10) + " bytes"}
		}
		if r.compressed && r.MaxMessageSize > 0 && length > uint64(r.MaxMessageSize) {
			return &CloseError{Code: CloseTooBig, Reason: "compressed frame exceeds " + strconv.FormatInt(r.MaxMessageSize, 10) + " bytes"}
		}
	}
	r.fin = fin
	r.op = op
	r.remaining = length
	r.inFrame = true
	return nil
}

// payload handles the next unmasked chunk of the current frame's payload.
func (r *Reader) payload(chunk []byte) error {
	done := r.remaining == 0
	if done {
		r.inFrame = false
	}
	if r.op.IsControl() {
		if done && r.ctrlN == 0 {
			return r.control(chunk) // whole in this Feed: no copy
		}
		if r.ctrl == nil {
			r.ctrl = new([MaxControlPayload]byte)
		}
		r.ctrlN += copy(r.ctrl[r.ctrlN:], chunk)
		if !done {
			return nil
		}
		return r.control(r.ctrl[:r.ctrlN])
	}
	end := done && r.fin
	if r.compressed {
		if len(chunk) > 0 {
			if err := r.inflater.Write(chunk, r.MaxMessageSize, r.emit); err != nil {
				return inflateError(err)
			}
		}
		if !end {
			return nil
		}
		if err := r.inflater.Finish(r.MaxMessageSize, r.emit); err != nil {
			return inflateError(err)
		}
		return r.endMessage(nil)
	}
	r.size += int64(len(chunk))
	if end {
		return r.endMessage(chunk)
	}
	if len(chunk) == 0 {
		return nil
	}
	if r.msgOp == OpText && !r.utf8.Write(chunk) {
		return invalidUTF8()
	}
	return r.h.OnData(r.msgOp, chunk, false)
}

// endMessage delivers the last piece of the message and checks that a text
// message ended on a whole UTF-8 sequence.
func (r *Reader) endMessage(last []byte) error {
	r.inMessage = false
	if r.msgOp == OpText && (!r.utf8.Write(last) || !r.utf8.Complete()) {
		return invalidUTF8()
	}
	return r.h.OnData(r.msgOp, last, true)
}

// emitInflated passes an inflated piece of a compressed message on.
func (r *Reader) emitInflated(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	r.size += int64(len(p))
	if r.MaxMessageSize > 0 && r.size > r.MaxMessageSize {
		return &CloseError{Code: CloseTooBig, Reason: "decompressed message exceeds " + strconv.FormatInt(r.MaxMessageSize, 10) + " bytes"}
	}
	if r.msgOp == OpText && !r.utf8.Write(p) {
		return invalidUTF8()
	}
	return r.h.OnData(r.msgOp, p, false)
}

// control handles the complete payload p of a control frame.
func (r *Reader) control(p []byte) error {
	switch r.op {
	case OpPing:
		return r.h.OnPing(p)
	case OpPong:
		return r.h.OnPong(p)
	}
	code, reason, cerr := parseClose(p)
	if cerr != nil {
		return cerr
	}
	r.closed = true
	return r.h.OnClose(code, reason)
}

func invalidUTF8() error {
	return &CloseError{Code: CloseInvalidPayload, Reason: "text message is not valid UTF-8"}
}

func inflateError(err error) error {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce
	}
	return &CloseError{Code: CloseInvalidPayload, Reason: "cannot inflate compressed message: " + err.Error()}
}
