package cluster

import (
	"encoding/binary"
	"errors"
)

// The envelope of every cluster message:
//
//	version (1) | kind | format | len(sender) | sender | incarnation (8) | seq (8) | fields | payload
//
// fields are uvarints whose number depends on kind. The sender's node ID,
// its incarnation (random per Node) and the sequence number per channel let
// receivers drop their own echoes and count what was lost.
const wireVersion = 1

type kind byte

const (
	kindBroadcast kind = iota + 1 // to every connection: payload
	kindTopic                     // to a topic's subscribers: payload
	kindSend                      // to one connection: id, payload
	kindClose                     // disconnect one connection: id, code; payload is the reason
	kindHeartbeat                 // presence: count, interval ms, timeout ms
	kindLeave                     // the sender leaves the cluster
	kindListReq                   // list your connections: request id
	kindListReply                 // the list: request id, last (0/1); payload: uvarint id per connection
)

// maxFields is the most uvarint fields a kind has.
const maxFields = 3

var fieldCount = [...]int{kindBroadcast: 0, kindTopic: 0, kindSend: 1, kindClose: 2, kindHeartbeat: 3, kindLeave: 0, kindListReq: 1, kindListReply: 2}

// envelope is a decoded message; its slices point into the received payload.
type envelope struct {
	kind        kind
	format      byte
	sender      []byte
	incarnation uint64
	seq         uint64
	fields      [maxFields]uint64
	payload     []byte
}

var errBadEnvelope = errors.New("cluster: malformed message")

// appendEnvelope appends the encoded message to b.
func appendEnvelope(b []byte, k kind, format byte, sender string, incarnation, seq uint64, fields []uint64, payload []byte) []byte {
	b = append(b, wireVersion, byte(k), format, byte(len(sender)))
	b = append(b, sender...)
	b = binary.BigEndian.AppendUint64(b, incarnation)
	b = binary.BigEndian.AppendUint64(b, seq)
	for _, f := range fields {
		b = binary.AppendUvarint(b, f)
	}
	return append(b, payload...)
}

// decodeEnvelope parses b into e without copying.
func decodeEnvelope(b []byte, e *envelope) error {
	if len(b) < 4 || b[0] != wireVersion {
		return errBadEnvelope
	}
	e.kind, e.format = kind(b[1]), b[2]
	if e.kind < kindBroadcast || e.kind > kindListReply {
		return errBadEnvelope
	}
	n := int(b[3])
	b = b[4:]
	if n == 0 || len(b) < n+16 {
		return errBadEnvelope
	}
	e.sender = b[:n]
	e.incarnation = binary.BigEndian.Uint64(b[n:])
	e.seq = binary.BigEndian.Uint64(b[n+8:])
	b = b[n+16:]
	for i := range fieldCount[e.kind] {
		v, m := binary.Uvarint(b)
		if m <= 0 {
			return errBadEnvelope
		}
		e.fields[i] = v
		b = b[m:]
	}
	e.payload = b
	return nil
}
