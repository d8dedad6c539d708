package protocol

// AppendMessage appends payload as the frames of one message, or of a part of
// one, to dst. Frames carry at most maxFrame payload bytes (0: no limit).
// begin says the part starts the message (its first frame carries op and, for
// a compressed message, RSV1; later frames are continuations); end says the
// part ends it (its last frame has FIN). An empty part that begins or ends a
// message still yields one frame.
func AppendMessage(dst []byte, op Opcode, compressed bool, payload []byte, maxFrame int, begin, end bool) []byte {
	first := begin
	for {
		n := len(payload)
		if maxFrame > 0 && n > maxFrame {
			n = maxFrame
		}
		last := n == len(payload)
		if !first && n == 0 && !(last && end) {
			return dst
		}
		fop := OpContinuation
		if first {
			fop = op
		}
		dst = AppendFrame(dst, last && end, fop, first && compressed, payload[:n])
		payload = payload[n:]
		first = false
		if last {
			return dst
		}
	}
}
