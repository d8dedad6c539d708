package protocol

import (
	"encoding/binary"
	"strconv"
)

// Close status codes of RFC 6455 section 7.4.1 and the IANA registry.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	CloseNoStatus        = 1005 // never sent: the close frame had no code
	CloseAbnormal        = 1006 // never sent: the connection dropped without a close frame
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseTooBig          = 1009
	CloseMandatoryExt    = 1010
	CloseInternalError   = 1011
	CloseServiceRestart  = 1012
	CloseTryAgainLater   = 1013
	CloseBadGateway      = 1014
	CloseTLSHandshake    = 1015 // never sent
)

// MaxCloseReason is the longest reason that fits a close frame beside its code.
const MaxCloseReason = MaxControlPayload - 2

// CloseError is a protocol violation found in the client's bytes, with the
// close code the server must send (RFC 6455 section 7.4.1) and a reason.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return "websocket: " + e.Reason + " (close code " + strconv.Itoa(e.Code) + ")"
}

func protocolError(reason string) *CloseError {
	return &CloseError{Code: CloseProtocolError, Reason: reason}
}

// ValidReceivedCloseCode reports whether a close frame may carry code
// (RFC 6455 section 7.4: 1000-1003 and 1007-1014 are defined for use, 1004-1006
// and 1015 are reserved or must not be sent, 3000-4999 belong to libraries and
// applications, everything else is invalid).
func ValidReceivedCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// DefaultCloseReason is the description the server sends with a standard code
// when the user set none (the reference's DisconnectStatusDescription).
func DefaultCloseReason(code int) string {
	switch code {
	case CloseNormal:
		return "Normal closure"
	case CloseGoingAway:
		return "Going away"
	case CloseProtocolError:
		return "Protocol error"
	case CloseUnsupportedData:
		return "Unsupported data"
	case CloseInvalidPayload:
		return "Invalid payload data"
	case ClosePolicyViolation:
		return "Policy violation"
	case CloseTooBig:
		return "Message too big"
	case CloseMandatoryExt:
		return "Required extension missing"
	case CloseInternalError:
		return "Internal server error"
	case CloseServiceRestart:
		return "Service restart"
	case CloseTryAgainLater:
		return "Try again later"
	case CloseBadGateway:
		return "Bad gateway"
	}
	return ""
}

// AppendClosePayload appends the payload of a close frame: the code and the
// reason cut to fit in 123 bytes without splitting a UTF-8 sequence. A code of
// CloseNoStatus gives an empty payload (RFC 6455 section 5.5.1).
func AppendClosePayload(dst []byte, code int, reason string) []byte {
	if code == CloseNoStatus || code == 0 {
		return dst
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	if len(reason) > MaxCloseReason {
		reason = reason[:CompleteRunes([]byte(reason[:MaxCloseReason]))]
	}
	return append(dst, reason...)
}

// parseClose validates a received close payload (RFC 6455 section 5.5.1):
// no payload means CloseNoStatus; otherwise a valid code and a UTF-8 reason.
func parseClose(p []byte) (code int, reason []byte, err *CloseError) {
	switch len(p) {
	case 0:
		return CloseNoStatus, nil, nil
	case 1:
		return 0, nil, protocolError("close frame payload of 1 byte")
	}
	code = int(binary.BigEndian.Uint16(p))
	if !ValidReceivedCloseCode(code) {
		return 0, nil, protocolError("invalid close code " + strconv.Itoa(code))
	}
	var v UTF8Validator
	if !v.Write(p[2:]) || !v.Complete() {
		return 0, nil, &CloseError{Code: CloseInvalidPayload, Reason: "close reason is not valid UTF-8"}
	}
	return code, p[2:], nil
}
