package wsserver

//go:generate go test -run ^TestOptionsGenerated$ -update-options .

import (
	"crypto/tls"
	"strconv"
	"time"
)

// An Option is the typed form of one config setting's value: the With
// functions (WithMaxMessageSize, WithHandshakeTimeout...), one per setting
// that can be set, make them, and Server.Configure applies them. A setting's
// name and the Go type of its value are checked by the compiler; its value is
// checked by Configure exactly as Config checks the same setting's text, with
// the same error codes.
//
// The With functions are generated from the config table that Config reads
// (options_gen.go), so every setting has both forms.
type Option struct {
	name  string
	value string // the setting's text, as Config takes it
	err   error  // a value the text form cannot express
}

// Name returns the config setting the option sets.
func (o Option) Name() string { return o.name }

// String returns the option as Config takes it: "Name=Value".
func (o Option) String() string { return o.name + "=" + o.value }

// Configure applies options atomically: every value is checked first, and
// either all of them take effect or, when one is invalid or cannot apply
// now, none does and the error says which (ErrInvalidValue 301,
// ErrNotSupported 302, ErrMaxConnectionsLocked 108..., as Config returns for
// the same setting). Later options override earlier ones of the same
// setting. Settings that concern new connections (most) apply to
// connections opened afterwards.
//
//	err := s.Configure(
//		wsserver.WithMaxMessageSize(1<<20),
//		wsserver.WithHandshakeTimeout(10*time.Second),
//		wsserver.WithEventLoop(true),
//	)
func (s *Server) Configure(opts ...Option) error {
	changes := make([]change, 0, len(opts))
	for _, o := range opts {
		if o.err != nil {
			return o.err
		}
		st := settingsByName[lowerASCII(o.name)]
		if st == nil || st.parse == nil {
			// Only a zero Option gets here: the With functions name settings that can be set.
			return newError(ErrUnknownSetting, "Configure: %q is not a config setting that can be set; make options with the With functions", o.name)
		}
		ch, err := st.parse(o.value)
		if err != nil {
			return err
		}
		changes = append(changes, ch)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	saved := s.cfg
	for _, ch := range changes {
		if err := ch(s); err != nil {
			s.cfg = saved // nothing applies
			return err
		}
	}
	return nil
}

func lowerASCII(name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// The constructors the generated With functions call: each turns a typed
// value into the setting's text.

func boolOption(name string, v bool) Option { return Option{name: name, value: formatBool(v)} }

func intOption(name string, v int64) Option {
	return Option{name: name, value: strconv.FormatInt(v, 10)}
}

func stringOption(name, v string) Option { return Option{name: name, value: v} }

// durationOption expresses d in the unit of a duration setting's text. A
// duration the unit cannot hold exactly (1500 ms for whole seconds) is an
// error of Configure, never silently rounded.
func durationOption(name string, d time.Duration, kind valueKind) Option {
	o := Option{name: name}
	var unit time.Duration
	var unitName string
	switch kind {
	case kindSeconds:
		o.value = formatSeconds(d)
		return o
	case kindWholeSeconds:
		unit, unitName = time.Second, "whole seconds"
	case kindMillis:
		unit, unitName = time.Millisecond, "whole milliseconds"
	default:
		unit, unitName = time.Microsecond, "whole microseconds"
	}
	if d%unit != 0 {
		o.err = newError(ErrInvalidValue, "%s takes %s, not %v", name, unitName, d)
	}
	o.value = strconv.FormatInt(int64(d/unit), 10)
	return o
}

// LicenseInfo returns the license of wsserver, as Config("LicenseInfo") does.
func LicenseInfo() string {
	return "Product: wsserver\r\nProduct Key: none (open source)\r\nLicense Source: source code\r\nLicense Type: MIT\r\nLast Valid Build: any"
}

// TLS returns the state of the connection's TLS session (the typed form of
// the SSLNegotiated* settings), or nil for a plaintext connection.
func (c *Connection) TLS() *tls.ConnectionState {
	tc := c.tlsConn()
	if tc == nil {
		return nil
	}
	st := tc.ConnectionState()
	return &st
}
