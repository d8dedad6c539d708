package wsserver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wsserver/wsserver/internal/transport"
)

// Tests of the reference's error codes: the Error type, the sentinels, the
// errno to 100xx mapping and the operations that fail with each code. The
// codes 104, 106, 107, 108, 112, 126, 10004, 10035 and 10060 are also
// checked where their operations are (properties, methods, line mode,
// SendFile and back pressure tests).

func TestError_MessageAndIsByCode(t *testing.T) {
	err := newError(ErrWouldBlock, "queue full on connection %d", 7)
	if !errors.Is(err, ErrWouldBlock) {
		t.Fatal("errors.Is does not match an error with the same code")
	}
	if errors.Is(err, ErrTimedOut) {
		t.Fatal("errors.Is matches an error with another code")
	}
	if !strings.HasPrefix(err.Error(), "[10035] Operation would block") {
		t.Fatalf("Error() = %q, want the reference's \"[10035] Operation would block\" first", err.Error())
	}
	var e *Error
	if !errors.As(fmt.Errorf("wrapped: %w", err), &e) || e.Code != 10035 {
		t.Fatal("errors.As does not find the *Error through a wrap")
	}
	cause := os.NewSyscallError("connect", syscall.ECONNREFUSED)
	se := socketError(cause, ErrSend)
	if se.Code != 10061 || !errors.Is(se, syscall.ECONNREFUSED) || errors.Unwrap(se) != cause {
		t.Fatalf("socketError(ECONNREFUSED) = %v (code %d); want 10061 wrapping the cause", se, se.Code)
	}
	if !strings.Contains(se.Error(), "[10061] Connection refused") {
		t.Fatalf("Error() = %q", se.Error())
	}
}

func TestError_SentinelsHaveTheReferenceCodesAndTexts(t *testing.T) {
	// The "Trappable Errors" of the reference, for the codes the server
	// returns by name.
	for _, tc := range []struct {
		err  *Error
		code int
		text string
	}{
		{ErrAlreadyListening, 104, "TCPServer is already listening."},
		{ErrLocalPortLocked, 106, "Cannot change LocalPort when TCPServer is listening."},
		{ErrLocalHostLocked, 107, "Cannot change LocalHost when TCPServer is listening."},
		{ErrMaxConnectionsLocked, 108, "Cannot change MaxConnections when TCPServer is listening."},
		{ErrMaxLineLengthLocked, 112, "You cannot change MaxLineLength at this time. A connection is in progress."},
		{ErrInvalidConnectionID, 126, "Invalid ConnectionId."},
		{ErrOperationWouldBlock, 135, "Operation would block."},
		{ErrSend, 4202, "Error sending data to the connected client."},
		{ErrInterrupted, 10004, "[10004] Interrupted system call."},
		{ErrWouldBlock, 10035, "[10035] Operation would block."},
		{ErrTimedOut, 10060, "[10060] Connection timed out."},
	} {
		want := strings.TrimSuffix(regexp.MustCompile(`^\[\d+\] `).ReplaceAllString(tc.text, ""), ".")
		if tc.err.Code != tc.code || tc.err.Message != want {
			t.Errorf("error %d: code %d message %q, want %q", tc.code, tc.err.Code, tc.err.Message, want)
		}
		if tc.err.Error() != fmt.Sprintf("[%d] %s", tc.code, want) {
			t.Errorf("Error() = %q", tc.err.Error())
		}
	}
}

func TestError_SocketMessagesMatchReferenceText(t *testing.T) {
	text, err := os.ReadFile(referencePath)
	if err != nil {
		t.Skipf("reference text not available: %v", err)
	}
	i := strings.Index(string(text), "TCP/IP Errors")
	if i < 0 {
		t.Fatal("no TCP/IP Errors section in the reference")
	}
	re := regexp.MustCompile(`(?m)^(\d+)[\s\x{00A0}]+\[\d+\] (.*?)\.?$`)
	n := 0
	for _, m := range re.FindAllStringSubmatch(string(text[i:]), -1) {
		code, _ := strconv.Atoi(m[1])
		n++
		if got := socketMessages[code]; got != m[2] {
			t.Errorf("socket error %d: message %q, want the reference's %q", code, got, m[2])
		}
	}
	if n < 50 {
		t.Fatalf("parsed only %d TCP/IP errors from the reference", n)
	}
	if n != len(socketMessages) {
		t.Errorf("the reference has %d TCP/IP errors, socketMessages %d", n, len(socketMessages))
	}
}

func TestError_ErrnoMapsTo100xx(t *testing.T) {
	for _, tc := range []struct {
		errno syscall.Errno
		code  int
	}{
		{syscall.EINTR, 10004}, {syscall.EACCES, 10013}, {syscall.EINVAL, 10022}, {syscall.EMFILE, 10024},
		{syscall.EAGAIN, 10035}, {syscall.EINPROGRESS, 10036}, {syscall.EADDRINUSE, 10048},
		{syscall.EADDRNOTAVAIL, 10049}, {syscall.ENETUNREACH, 10051}, {syscall.ECONNABORTED, 10053},
		{syscall.ECONNRESET, 10054}, {syscall.ENOBUFS, 10055}, {syscall.ENOTCONN, 10057},
		{syscall.ETIMEDOUT, 10060}, {syscall.ECONNREFUSED, 10061}, {syscall.EHOSTUNREACH, 10065},
	} {
		cause := &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", tc.errno)}
		e := socketError(cause, ErrSend)
		if e.Code != tc.code || !errors.Is(e, tc.errno) || !errors.Is(e, &Error{Code: tc.code}) {
			t.Errorf("%v: code %d, want %d wrapping the errno", tc.errno, e.Code, tc.code)
		}
		if e.Message != socketMessages[tc.code] || e.Message == "" {
			t.Errorf("%v: message %q", tc.errno, e.Message)
		}
	}
	// Every errno of the table has the reference's text for its code.
	for errno, code := range transport.SocketCodes() {
		if socketMessages[code] == "" {
			t.Errorf("%v maps to %d, which has no message", errno, code)
		}
	}
	// An errno with no 100xx code keeps the fallback's code.
	if e := socketError(os.NewSyscallError("x", syscall.ENOSPC), ErrSend); e.Code != 4202 || !errors.Is(e, syscall.ENOSPC) {
		t.Errorf("unmapped errno: %v", e)
	}
	// An *Error passes through unchanged.
	if e := socketError(fmt.Errorf("x: %w", ErrTimedOut), ErrSend); e != ErrTimedOut {
		t.Errorf("socketError of an *Error: %v", e)
	}
}

func TestStartListening_BusyPort10048(t *testing.T) {
	checkGoroutines(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := New()
	s.SetLocalHost("127.0.0.1")
	s.SetLocalPort(ln.Addr().(*net.TCPAddr).Port)
	err = s.StartListening()
	if err == nil {
		s.Shutdown()
		t.Fatal("StartListening on a busy port succeeded")
	}
	if !errors.Is(err, &Error{Code: 10048}) || wsErrCode(err) != 10048 || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("StartListening on a busy port: %v, want 10048 (EADDRINUSE)", err)
	}
	if s.Listening() {
		t.Fatal("Listening after a failed StartListening")
	}
}

func TestStartListening_AddressNotAvailable10049(t *testing.T) {
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_nonlocal_bind"); strings.TrimSpace(string(b)) == "1" {
		t.Skip("ip_nonlocal_bind is on: any address can be bound")
	}
	s := New()
	s.SetLocalHost("192.0.2.1") // TEST-NET-1: not an address of this host
	err := s.StartListening()
	if err == nil {
		s.Shutdown()
		t.Fatal("StartListening on a foreign address succeeded")
	}
	if wsErrCode(err) != 10049 || !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Fatalf("StartListening on 192.0.2.1: %v, want 10049", err)
	}
}

func TestStartListening_HostNotFound11001(t *testing.T) {
	s := New()
	s.SetLocalHost("no-such-host.invalid") // RFC 6761: never resolves
	err := s.StartListening()
	if err == nil {
		s.Shutdown()
		t.Fatal("StartListening on an unknown host name succeeded")
	}
	if wsErrCode(err) != 11001 {
		t.Fatalf("StartListening on an unknown host: %v, want 11001", err)
	}
}

func TestStartListening_UseSSLWithoutCertificate282(t *testing.T) {
	s := New()
	if err := s.SetUseSSL(true); err != nil {
		t.Fatal(err)
	}
	s.SetLocalHost("127.0.0.1")
	err := s.StartListening()
	if err == nil {
		s.Shutdown()
		t.Fatal("StartListening with UseSSL and no certificate succeeded")
	}
	if wsErrCode(err) != 282 {
		t.Fatalf("StartListening with UseSSL and no certificate: %v, want 282", err)
	}
}

func TestSendFile_MissingFile4202(t *testing.T) {
	h := newHarness(t, nil)
	_, id := h.dial(t, "/", nil)
	err := h.s.SendFile(id, filepath.Join(t.TempDir(), "missing"))
	if wsErrCode(err) != 4202 || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SendFile of a missing file: %v, want 4202 wrapping ErrNotExist", err)
	}
}

func TestSendStream_ReadError4202(t *testing.T) {
	h := newHarness(t, nil)
	conn, id := h.dial(t, "/", nil)
	boom := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader("partial"), errReader{boom})
	err := h.s.SendStream(id, r, FormatBinary)
	if wsErrCode(err) != 4202 || !errors.Is(err, boom) {
		t.Fatalf("SendStream with a failing reader: %v, want 4202 wrapping the cause", err)
	}
	// The message that had begun is ended, and the connection goes on.
	if _, p := readMessage(t, conn); string(p) != "partial" {
		t.Fatalf("client got %q", p)
	}
	h.s.SendText(id, "still open")
	if _, p := readMessage(t, conn); string(p) != "still open" {
		t.Fatalf("client got %q", p)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
