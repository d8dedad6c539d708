package wsserver

import (
	"errors"
	"fmt"

	"github.com/wsserver/wsserver/internal/transport"
)

// Error is an error of the WSServer reference: a numeric code that keeps the
// reference's number and a message. Errors from the operating system keep the
// reference's 100xx socket code and wrap the system error.
//
// Two Errors match with errors.Is when their codes are equal, so
//
//	errors.Is(err, wsserver.ErrWouldBlock)
//
// holds for every "would block" error whatever its message.
type Error struct {
	Code    int
	Message string
	Err     error // the underlying cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("[%d] %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("[%d] %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The reference's error codes that callers branch on.
var (
	// ErrAlreadyListening (104): StartListening while already listening.
	ErrAlreadyListening = &Error{Code: 104, Message: "TCPServer is already listening"}
	// ErrLocalPortLocked (106): LocalPort cannot change while listening.
	ErrLocalPortLocked = &Error{Code: 106, Message: "Cannot change LocalPort when TCPServer is listening"}
	// ErrLocalHostLocked (107): LocalHost cannot change while listening.
	ErrLocalHostLocked = &Error{Code: 107, Message: "Cannot change LocalHost when TCPServer is listening"}
	// ErrMaxConnectionsLocked (108): MaxConnections cannot change once listening.
	ErrMaxConnectionsLocked = &Error{Code: 108, Message: "Cannot change MaxConnections when TCPServer is listening"}
	// ErrMaxLineLengthLocked (112): MaxLineLength cannot shrink below a line being received.
	ErrMaxLineLengthLocked = &Error{Code: 112, Message: "You cannot change MaxLineLength at this time. A connection is in progress"}
	// ErrInvalidConnectionID (126): no connection has that ConnectionId.
	ErrInvalidConnectionID = &Error{Code: 126, Message: "Invalid ConnectionId"}
	// ErrOperationWouldBlock (135): the reference's TCPServer form of "would block".
	ErrOperationWouldBlock = &Error{Code: 135, Message: "Operation would block"}
	// ErrSend (4202): sending data to the client failed.
	ErrSend = &Error{Code: 4202, Message: "Error sending data to the connected client"}
	// ErrInterrupted (10004): Interrupt stopped a send.
	ErrInterrupted = &Error{Code: 10004, Message: "Interrupted system call"}
	// ErrWouldBlock (10035): the outgoing queue is full and Timeout is 0.
	// Retry after the ReadyToSend event.
	ErrWouldBlock = &Error{Code: 10035, Message: "Operation would block"}
	// ErrTimedOut (10060): a blocking operation made no progress for Timeout seconds.
	ErrTimedOut = &Error{Code: 10060, Message: "Connection timed out"}

	// ErrUnknownSetting (300): Config got a name the reference does not define.
	ErrUnknownSetting = &Error{Code: 300, Message: "Unknown configuration setting"}
	// ErrInvalidValue (301): a property or setting got a value it cannot take.
	ErrInvalidValue = &Error{Code: 301, Message: "Invalid value"}
	// ErrNotSupported (302): a setting or value that cannot apply on this platform.
	ErrNotSupported = &Error{Code: 302, Message: "Not supported on this platform"}
	// ErrNotConnected (303): the connection is closing or closed.
	ErrNotConnected = &Error{Code: 303, Message: "Connection is closed"}
)

// newError returns an *Error with code's identity and a message of its own.
func newError(code *Error, format string, args ...any) *Error {
	return &Error{Code: code.Code, Message: code.Message + ": " + fmt.Sprintf(format, args...)}
}

// socketMessages are the reference's texts for the 100xx codes.
var socketMessages = map[int]string{
	10004: "Interrupted system call", 10009: "Bad file number", 10013: "Access denied",
	10014: "Bad address", 10022: "Invalid argument", 10024: "Too many open files",
	10035: "Operation would block", 10036: "Operation now in progress",
	10037: "Operation already in progress", 10038: "Socket operation on non-socket",
	10039: "Destination address required", 10040: "Message too long",
	10041: "Protocol wrong type for socket", 10042: "Bad protocol option",
	10043: "Protocol not supported", 10044: "Socket type not supported",
	10045: "Operation not supported on socket", 10046: "Protocol family not supported",
	10047: "Address family not supported by protocol family", 10048: "Address already in use",
	10049: "Can't assign requested address", 10050: "Network is down",
	10051: "Network is unreachable", 10052: "Net dropped connection or reset",
	10053: "Software caused connection abort", 10054: "Connection reset by peer",
	10055: "No buffer space available", 10056: "Socket is already connected",
	10057: "Socket is not connected", 10058: "Can't send after socket shutdown",
	10059: "Too many references, can't splice", 10060: "Connection timed out",
	10061: "Connection refused", 10062: "Too many levels of symbolic links",
	10063: "File name too long", 10064: "Host is down", 10065: "No route to host",
	10066: "Directory not empty", 10067: "Too many processes", 10068: "Too many users",
	10069: "Disc Quota Exceeded", 10070: "Stale NFS file handle",
	10071: "Too many levels of remote in path", 10091: "Network subsystem is unavailable",
	10092: "WINSOCK DLL Version out of range", 10093: "Winsock not loaded yet",
	11001: "Host not found", 11002: "Non-authoritative 'Host not found' (try again or check DNS setup)",
	11003: "Non-recoverable errors: FORMERR, REFUSED, NOTIMP",
	11004: "Valid name, no data record (check DNS setup)",
}

// socketError wraps an error from the network stack in an *Error with the
// reference's 100xx code when its errno is known, and fallback otherwise.
func socketError(err error, fallback *Error) *Error {
	if err == nil {
		return nil
	}
	var we *Error
	if errors.As(err, &we) {
		return we
	}
	if code, ok := transport.SocketCode(err); ok {
		return &Error{Code: code, Message: socketMessages[code], Err: err}
	}
	return &Error{Code: fallback.Code, Message: fallback.Message, Err: err}
}
