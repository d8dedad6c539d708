package transport

import (
	"errors"
	"maps"
	"syscall"
)

// SocketCode returns the reference's 100xx code (Winsock numbering) of the
// system error in err's chain, and whether it has one.
func SocketCode(err error) (int, bool) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return 0, false
	}
	code, ok := errnoCodes[errno]
	return code, ok
}

// errnoCodes maps errno values onto the reference's 100xx codes, which
// follow Winsock numbering.
var errnoCodes = map[syscall.Errno]int{
	syscall.EINTR:           10004,
	syscall.EBADF:           10009,
	syscall.EACCES:          10013,
	syscall.EPERM:           10013,
	syscall.EFAULT:          10014,
	syscall.EINVAL:          10022,
	syscall.EMFILE:          10024,
	syscall.ENFILE:          10024,
	syscall.EAGAIN:          10035,
	syscall.EINPROGRESS:     10036,
	syscall.EALREADY:        10037,
	syscall.ENOTSOCK:        10038,
	syscall.EDESTADDRREQ:    10039,
	syscall.EMSGSIZE:        10040,
	syscall.EPROTOTYPE:      10041,
	syscall.ENOPROTOOPT:     10042,
	syscall.EPROTONOSUPPORT: 10043,
	syscall.ESOCKTNOSUPPORT: 10044,
	syscall.EOPNOTSUPP:      10045,
	syscall.EPFNOSUPPORT:    10046,
	syscall.EAFNOSUPPORT:    10047,
	syscall.EADDRINUSE:      10048,
	syscall.EADDRNOTAVAIL:   10049,
	syscall.ENETDOWN:        10050,
	syscall.ENETUNREACH:     10051,
	syscall.ENETRESET:       10052,
	syscall.ECONNABORTED:    10053,
	syscall.ECONNRESET:      10054,
	syscall.EPIPE:           10054,
	syscall.ENOBUFS:         10055,
	syscall.EISCONN:         10056,
	syscall.ENOTCONN:        10057,
	syscall.ESHUTDOWN:       10058,
	syscall.ETOOMANYREFS:    10059,
	syscall.ETIMEDOUT:       10060,
	syscall.ECONNREFUSED:    10061,
	syscall.ELOOP:           10062,
	syscall.ENAMETOOLONG:    10063,
	syscall.EHOSTDOWN:       10064,
	syscall.EHOSTUNREACH:    10065,
	syscall.ENOTEMPTY:       10066,
	syscall.EUSERS:          10068,
	syscall.EDQUOT:          10069,
	syscall.ESTALE:          10070,
	syscall.EREMOTE:         10071,
}

// SocketCodes returns a copy of the table SocketCode reads: errno values
// and their 100xx codes.
func SocketCodes() map[syscall.Errno]int { return maps.Clone(errnoCodes) }
