package tlsconf

import (
	"fmt"
)

// TLS record content types (RFC 8446 section 5.1).
const (
	recordChangeCipherSpec = 20
	recordAlert            = 21
	recordHandshake        = 22
	recordApplicationData  = 23
	recordHeartbeat        = 24
)

// RecordParser follows the TLS records in one direction of a byte stream,
// however the bytes are split, and describes each record once its header
// (and, for plaintext handshake and alert records, the first payload
// bytes) has arrived.
type RecordParser struct {
	hdr       [5]byte
	hdrN      int
	peek      [2]byte // the first payload bytes of a plaintext record
	peekN     int
	peekWant  int
	remain    int  // payload bytes of the current record not yet seen
	encrypted bool // a ChangeCipherSpec went this way: what follows is encrypted
	broken    bool // the stream is not TLS records: stop parsing
}

// Feed parses b, the next bytes of the stream, and calls emit with the
// description of each record whose header is complete.
func (p *RecordParser) Feed(b []byte, emit func(string)) {
	for len(b) > 0 && !p.broken {
		switch {
		case p.hdrN < len(p.hdr):
			n := copy(p.hdr[p.hdrN:], b)
			p.hdrN += n
			b = b[n:]
			if p.hdrN < len(p.hdr) {
				return
			}
			typ := p.hdr[0]
			if typ < recordChangeCipherSpec || typ > recordHeartbeat || p.hdr[1] != 3 {
				p.broken = true
				emit(fmt.Sprintf("not a TLS record (first bytes % x); no more records are reported", p.hdr[:]))
				return
			}
			p.remain = int(p.hdr[3])<<8 | int(p.hdr[4])
			p.peekN, p.peekWant = 0, 0
			if !p.encrypted {
				switch typ {
				case recordHandshake:
					p.peekWant = min(1, p.remain)
				case recordAlert:
					p.peekWant = min(2, p.remain)
				}
			}
			if p.peekWant == 0 {
				emit(p.describe())
			}
			if typ == recordChangeCipherSpec {
				p.encrypted = true
			}
		case p.peekN < p.peekWant:
			n := copy(p.peek[p.peekN:p.peekWant], b)
			p.peekN += n
			p.remain -= n
			b = b[n:]
			if p.peekN == p.peekWant {
				emit(p.describe())
			}
		default:
			n := min(p.remain, len(b))
			p.remain -= n
			b = b[n:]
		}
		if p.hdrN == len(p.hdr) && p.remain == 0 && p.peekN == p.peekWant {
			p.hdrN = 0 // the record is complete
		}
	}
}

// describe describes the current record.
func (p *RecordParser) describe() string {
	typ := p.hdr[0]
	version := uint16(p.hdr[1])<<8 | uint16(p.hdr[2])
	length := int(p.hdr[3])<<8 | int(p.hdr[4])
	var what string
	switch typ {
	case recordChangeCipherSpec:
		what = "ChangeCipherSpec"
	case recordAlert:
		what = "Alert"
		if p.peekWant == 2 && p.peekN == 2 {
			what += fmt.Sprintf(" (%s, %s)", alertLevel(p.peek[0]), alertName(p.peek[1]))
		} else if p.encrypted {
			what += " (encrypted)"
		}
	case recordHandshake:
		what = "Handshake"
		if p.peekWant == 1 && p.peekN == 1 {
			what += " (" + handshakeName(p.peek[0]) + ")"
		} else if p.encrypted {
			what += " (encrypted)"
		}
	case recordApplicationData:
		what = "ApplicationData"
	case recordHeartbeat:
		what = "Heartbeat"
	}
	return fmt.Sprintf("%s, record version %s, %d bytes", what, VersionName(version), length)
}

func handshakeName(t byte) string {
	switch t {
	case 0:
		return "HelloRequest"
	case 1:
		return "ClientHello"
	case 2:
		return "ServerHello"
	case 4:
		return "NewSessionTicket"
	case 5:
		return "EndOfEarlyData"
	case 8:
		return "EncryptedExtensions"
	case 11:
		return "Certificate"
	case 12:
		return "ServerKeyExchange"
	case 13:
		return "CertificateRequest"
	case 14:
		return "ServerHelloDone"
	case 15:
		return "CertificateVerify"
	case 16:
		return "ClientKeyExchange"
	case 20:
		return "Finished"
	case 22:
		return "CertificateStatus"
	case 24:
		return "KeyUpdate"
	}
	return fmt.Sprintf("type %d", t)
}

func alertLevel(l byte) string {
	switch l {
	case 1:
		return "warning"
	case 2:
		return "fatal"
	}
	return fmt.Sprintf("level %d", l)
}

// alertNames are the TLS alert descriptions (RFC 8446 section 6 and
// earlier versions).
var alertNames = map[byte]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
	22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
	42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
	45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error", 60: "export_restriction",
	70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
	86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
	109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
	113: "bad_certificate_status_response", 115: "unknown_psk_identity", 116: "certificate_required",
	120: "no_application_protocol",
}

func alertName(d byte) string {
	if n, ok := alertNames[d]; ok {
		return n
	}
	return fmt.Sprintf("alert %d", d)
}
