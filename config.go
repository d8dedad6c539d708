package wsserver

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/wsserver/wsserver/internal/protocol"
)

// setting is one entry of the config table: a name of the reference (or of
// ours) with the functions that read and write it. perConn settings take a
// "[ConnectionId]" suffix.
//
// The table is the one place a setting is defined: Config reads and writes
// it by name, and its kind gives it a typed form, a With function of
// options_gen.go that Server.Configure applies (generated from this table by
// TestOptionsGenerated; run `go generate` after adding a setting). The helpers
// boolSetting, intSetting, durationSetting... set the kind; an entry written
// out by hand sets it itself.
type setting struct {
	name  string
	group string
	kind  valueKind // the Go type of the typed form; kindNone: none (read-only or per-connection only)
	get   func(s *Server) string
	// parse validates a value and returns the change it makes, which runs
	// with s.mu held; nil: read-only.
	parse func(v string) (change, error)
	// connGet and connSet serve "Name[ConnectionId]"; nil when the setting
	// has no per-connection form.
	connGet func(c *Connection) string
	connSet func(c *Connection, v string) error
	// goForm names the Go form of a setting without an option (a read-only
	// or per-connection one), e.g. "Connection.SetMessageLength".
	goForm string
	doc    string
}

// A change applies a validated setting value to s.cfg; it runs with s.mu
// held. It may refuse (a setting that is fixed while listening), and then
// changes nothing.
type change func(s *Server) error

// valueKind is the Go type of a setting's typed form, and how it maps onto
// the setting's text.
type valueKind int

const (
	kindNone         valueKind = iota
	kindBool                   // bool: True/False
	kindInt                    // int
	kindInt64                  // int64
	kindString                 // string
	kindSeconds                // time.Duration: decimal seconds
	kindWholeSeconds           // time.Duration: an integer of seconds
	kindMillis                 // time.Duration: an integer of milliseconds
	kindMicros                 // time.Duration: an integer of microseconds
)

// Config sets or reads a configuration setting: Config("Name=Value") sets it
// and returns "", Config("Name") returns its value. Per-connection settings
// take the ConnectionId in brackets: Config("MaxLineLength[3]=80"). Names are
// case-insensitive. Booleans accept True/False, 1/0 and Yes/No. Unknown names
// fail with ErrUnknownSetting, bad values with ErrInvalidValue, settings that
// cannot apply on this platform with ErrNotSupported, all saying why.
func (s *Server) Config(configuration string) (string, error) {
	name, value, isSet := strings.Cut(configuration, "=")
	name = strings.TrimSpace(name)
	id, indexed := 0, false
	if i := strings.IndexByte(name, '['); i >= 0 && strings.HasSuffix(name, "]") {
		n, err := strconv.Atoi(strings.TrimSpace(name[i+1 : len(name)-1]))
		if err != nil {
			return "", newError(ErrInvalidValue, "%q: the index must be a ConnectionId", name)
		}
		name, id, indexed = name[:i], n, true
	}
	st, ok := settingsByName[strings.ToLower(name)]
	if !ok {
		return "", newError(ErrUnknownSetting, "%q is not a config setting of WSServer (see the README for the list)", name)
	}
	if indexed {
		if st.connGet == nil {
			return "", newError(ErrInvalidValue, "%s does not take a [ConnectionId]", st.name)
		}
		c, err := s.Connection(id)
		if err != nil {
			return "", err
		}
		if !isSet {
			return st.connGet(c), nil
		}
		if st.connSet == nil {
			return "", newError(ErrInvalidValue, "%s is read-only", st.name)
		}
		return "", st.connSet(c, strings.TrimSpace(value))
	}
	if !isSet {
		if st.get == nil {
			return "", newError(ErrInvalidValue, "%s needs a [ConnectionId], e.g. %s[1]", st.name, st.name)
		}
		return st.get(s), nil
	}
	if st.parse == nil {
		if st.get == nil {
			return "", newError(ErrInvalidValue, "%s needs a [ConnectionId], e.g. %s[1]=...", st.name, st.name)
		}
		return "", newError(ErrInvalidValue, "%s is read-only", st.name)
	}
	apply, err := st.parse(strings.TrimSpace(value))
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return "", apply(s)
}

// ConfigNames returns the names of every config setting, in table order,
// the SSL group last.
func ConfigNames() []string {
	names := make([]string, 0, len(settingTable)+len(sslSettingTable))
	for _, st := range settingTable {
		names = append(names, st.name)
	}
	for _, st := range sslSettingTable {
		names = append(names, st.name)
	}
	return names
}

var settingsByName = func() map[string]*setting {
	m := make(map[string]*setting)
	for i := range settingTable {
		m[strings.ToLower(settingTable[i].name)] = &settingTable[i]
	}
	for i := range sslSettingTable {
		m[strings.ToLower(sslSettingTable[i].name)] = &sslSettingTable[i]
	}
	return m
}()

// parseBool parses the reference's boolean forms.
func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, newError(ErrInvalidValue, "%s takes True/False, 1/0 or Yes/No, not %q", name, v)
}

func formatBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// parseInt parses an integer within [lo, hi].
func parseInt(name, v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil || n < lo || n > hi {
		return 0, newError(ErrInvalidValue, "%s takes an integer from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}

// Helpers building table entries for settings held in s.cfg. Each sets the
// entry's kind, so the setting gets its typed form too.

// getter reads a field of s.cfg under s.mu and formats it.
func getter[T any](field func(*settings) *T, format func(T) string) func(s *Server) string {
	return func(s *Server) string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return format(*field(&s.cfg))
	}
}

// store returns the change that stores v in a field of s.cfg.
func store[T any](field func(*settings) *T, v T) change {
	return func(s *Server) error {
		*field(&s.cfg) = v
		return nil
	}
}

func boolSetting(name, group, doc string, field func(*settings) *bool) setting {
	return setting{name: name, group: group, doc: doc, kind: kindBool,
		get: getter(field, formatBool),
		parse: func(v string) (change, error) {
			b, err := parseBool(name, v)
			if err != nil {
				return nil, err
			}
			return store(field, b), nil
		}}
}

func int64Setting(name, group, doc string, lo, hi int64, field func(*settings) *int64) setting {
	return setting{name: name, group: group, doc: doc, kind: kindInt64,
		get: getter(field, func(n int64) string { return strconv.FormatInt(n, 10) }),
		parse: func(v string) (change, error) {
			n, err := parseInt(name, v, lo, hi)
			if err != nil {
				return nil, err
			}
			return store(field, n), nil
		}}
}

func intSetting(name, group, doc string, lo, hi int64, field func(*settings) *int) setting {
	return setting{name: name, group: group, doc: doc, kind: kindInt,
		get: getter(field, strconv.Itoa),
		parse: func(v string) (change, error) {
			n, err := parseInt(name, v, lo, hi)
			if err != nil {
				return nil, err
			}
			return store(field, int(n)), nil
		}}
}

// durationSetting is an integer setting counted in unit (time.Second,
// time.Millisecond or time.Microsecond) in its text, whose typed form is a
// time.Duration.
func durationSetting(name, group, doc string, unit time.Duration, lo, hi int64, field func(*settings) *int) setting {
	st := intSetting(name, group, doc, lo, hi, field)
	switch unit {
	case time.Second:
		st.kind = kindWholeSeconds
	case time.Millisecond:
		st.kind = kindMillis
	case time.Microsecond:
		st.kind = kindMicros
	default:
		panic("wsserver: durationSetting " + name + ": unit must be a second, millisecond or microsecond")
	}
	return st
}

func stringSetting(name, group, doc string, field func(*settings) *string) setting {
	return setting{name: name, group: group, doc: doc, kind: kindString,
		get: getter(field, func(v string) string { return v }),
		parse: func(v string) (change, error) {
			return store(field, v), nil
		}}
}

// secondsSetting is a time.Duration setting whose text is decimal seconds,
// 0 < n <= 86400.
func secondsSetting(name, group, doc string, field func(*settings) *time.Duration) setting {
	return setting{name: name, group: group, doc: doc, kind: kindSeconds,
		get: getter(field, formatSeconds),
		parse: func(v string) (change, error) {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0 && f <= 86400) { // NaN fails too
				return nil, newError(ErrInvalidValue, "%s takes seconds (0 < n <= 86400), not %q", name, v)
			}
			return store(field, time.Duration(f*float64(time.Second))), nil
		}}
}

func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// optionalSecondsSetting is secondsSetting where 0 turns the feature off.
func optionalSecondsSetting(name, group, doc string, field func(*settings) *time.Duration) setting {
	st := secondsSetting(name, group, doc, field)
	parse := st.parse
	st.parse = func(v string) (change, error) {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f == 0 {
			return store(field, time.Duration(0)), nil
		}
		apply, err := parse(v)
		if err != nil {
			return nil, newError(ErrInvalidValue, "%s takes seconds (0: off, or 0 < n <= 86400), not %q", name, v)
		}
		return apply, nil
	}
	return st
}

// Version is the version of wsserver, reported by BuildInfo.
const Version = "0.1.0"

var settingTable = []setting{
	// WebSocketServer settings.
	boolSetting("BufferMessage", "WebSocketServer", "whole messages in one DataIn (new connections)",
		func(c *settings) *bool { return &c.bufferMessage }),
	{name: "DisconnectStatusCode", group: "WebSocketServer", kind: kindInt, doc: "close code Disconnect sends (default 1000)",
		get: getter(func(c *settings) *int { return &c.disconnectCode }, strconv.Itoa),
		parse: func(v string) (change, error) {
			n, err := parseInt("DisconnectStatusCode", v, 1000, 4999)
			if err != nil {
				return nil, err
			}
			if !validSendCloseCode(int(n)) {
				return nil, newError(ErrInvalidValue, "DisconnectStatusCode %d may not be sent (RFC 6455 section 7.4.1: use 1000-1003, 1007-1014 or 3000-4999)", n)
			}
			return store(func(c *settings) *int { return &c.disconnectCode }, int(n)), nil
		}},
	{name: "DisconnectStatusDescription", group: "WebSocketServer", kind: kindString, doc: "reason Disconnect sends (default: the standard code's description)",
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.cfg.disconnectReasonSet {
				return protocol.DefaultCloseReason(s.cfg.disconnectCode)
			}
			return s.cfg.disconnectReason
		},
		parse: func(v string) (change, error) {
			if len(v) > 123 {
				return nil, newError(ErrInvalidValue, "DisconnectStatusDescription is %d bytes; a close frame holds at most 123", len(v))
			}
			if !validText([]byte(v)) {
				return nil, newError(ErrInvalidValue, "DisconnectStatusDescription must be UTF-8")
			}
			return func(s *Server) error {
				s.cfg.disconnectReason, s.cfg.disconnectReasonSet = v, true
				return nil
			}, nil
		}},
	boolSetting("EnablePermessageDeflate", "WebSocketServer", "accept permessage-deflate (RFC 7692) offers",
		func(c *settings) *bool { return &c.permessageDeflate }),
	intSetting("MaxFrameSize", "WebSocketServer", "largest outgoing frame payload before fragmentation (new connections)", 1, 1<<31-1,
		func(c *settings) *int { return &c.maxFrameSize }),
	{name: "MaxLineLength", group: "WebSocketServer", kind: kindInt, doc: "LineMode line limit; [ConnectionId] for one connection (Connection.SetMaxLineLength), plain for new ones",
		get: getter(func(c *settings) *int { return &c.defaultMaxLineLength }, strconv.Itoa),
		parse: func(v string) (change, error) {
			n, err := parseInt("MaxLineLength", v, 1, 1<<30)
			if err != nil {
				return nil, err
			}
			return store(func(c *settings) *int { return &c.defaultMaxLineLength }, int(n)), nil
		},
		connGet: func(c *Connection) string { return strconv.Itoa(c.MaxLineLength()) },
		connSet: func(c *Connection, v string) error {
			n, err := parseInt("MaxLineLength", v, 1, 1<<30)
			if err != nil {
				return err
			}
			return c.SetMaxLineLength(int(n))
		}},
	{name: "MessageLength", group: "WebSocketServer", goForm: "Connection.SetMessageLength", doc: "make the next N bytes of sends one message ([ConnectionId] required)",
		connGet: func(c *Connection) string { return strconv.FormatInt(c.MessageLength(), 10) },
		connSet: func(c *Connection, v string) error {
			n, err := parseInt("MessageLength", v, 0, 1<<62)
			if err != nil {
				return err
			}
			return c.SetMessageLength(n)
		}},
	boolSetting("WaitForCloseResponse", "WebSocketServer", "wait for the client's close frame after Disconnect (new connections)",
		func(c *settings) *bool { return &c.waitForCloseResponse }),

	// TCPServer settings.
	stringSetting("AllowedClients", "TCPServer", "comma-separated addresses or host names (wildcards * and ?) allowed",
		func(c *settings) *string { return &c.allowedClients }),
	boolSetting("BindExclusively", "TCPServer", "False sets SO_REUSEPORT so other sockets may bind the port",
		func(c *settings) *bool { return &c.bindExclusively }),
	stringSetting("BlockedClients", "TCPServer", "comma-separated addresses or host names (wildcards * and ?) refused",
		func(c *settings) *string { return &c.blockedClients }),
	boolSetting("CloseStreamAfterTransfer", "TCPServer", "SendStream closes its reader when done",
		func(c *settings) *bool { return &c.closeStreamAfterTransfer }),
	durationSetting("DefaultConnectionTimeout", "TCPServer", "TLS handshake inactivity timeout in seconds (0: none; HandshakeTimeout bounds the whole handshake)", time.Second, 0, 86400,
		func(c *settings) *int { return &c.defaultConnectionTimeout }),
	intSetting("InBufferSize", "TCPServer", "SO_RCVBUF of new connections (0: system default)", 0, 1<<30,
		func(c *settings) *int { return &c.inBufferSize }),
	durationSetting("KeepAliveInterval", "TCPServer", "TCP keep-alive retry interval in ms (0: system default)", time.Millisecond, 0, 1<<31-1,
		func(c *settings) *int { return &c.keepAliveInterval }),
	durationSetting("KeepAliveTime", "TCPServer", "TCP keep-alive idle time in ms (0: system default)", time.Millisecond, 0, 1<<31-1,
		func(c *settings) *int { return &c.keepAliveTime }),
	{name: "MaxConnections", group: "TCPServer", kind: kindInt, doc: "simultaneous connections, 1 to 100000; fixed while listening",
		get: getter(func(c *settings) *int { return &c.maxConnections }, strconv.Itoa),
		parse: func(v string) (change, error) {
			n, err := parseInt("MaxConnections", v, 1, maxMaxConnections)
			if err != nil {
				return nil, err
			}
			return func(s *Server) error {
				if s.ln != nil || s.active > 0 {
					return ErrMaxConnectionsLocked
				}
				s.cfg.maxConnections = int(n)
				return nil
			}, nil
		}},
	intSetting("OutBufferSize", "TCPServer", "SO_SNDBUF of new connections and the per-connection send queue limit (0: system default, queue SendQueueSize)", 0, 1<<30,
		func(c *settings) *int { return &c.outBufferSize }),
	boolSetting("TcpNoDelay", "TCPServer", "disable Nagle's algorithm on new connections",
		func(c *settings) *bool { return &c.tcpNoDelay }),
	intSetting("UseIPv6", "TCPServer", "0 IPv4 only, 1 IPv6 only, 2 both", 0, 2,
		func(c *settings) *int { return &c.useIPv6 }),

	// Base settings.
	{name: "BuildInfo", group: "Base", goForm: "Version", doc: "version and build of wsserver", get: func(*Server) string { return buildInfo() }},
	{name: "CodePage", group: "Base", kind: kindInt, doc: "encoding of TextB for text data (65001 UTF-8 default)",
		get: getter(func(c *settings) *int { return &c.codePage }, strconv.Itoa),
		parse: func(v string) (change, error) {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, newError(ErrInvalidValue, "CodePage takes a code page number, not %q", v)
			}
			if _, err := codePageEncoding(n); err != nil {
				return nil, err
			}
			return store(func(c *settings) *int { return &c.codePage }, n), nil
		}},
	{name: "LicenseInfo", group: "Base", goForm: "LicenseInfo", doc: "license of wsserver", get: func(*Server) string { return LicenseInfo() }},
	boolSetting("MaskSensitive", "Base", "mask Authorization, Cookie and passwords in Log messages",
		func(c *settings) *bool { return &c.maskSensitive }),
	{name: "UseInternalSecurityAPI", group: "Base", kind: kindBool, doc: "always True: TLS is Go's crypto/tls",
		get: func(*Server) string { return "True" },
		parse: func(v string) (change, error) {
			b, err := parseBool("UseInternalSecurityAPI", v)
			if err != nil {
				return nil, err
			}
			if !b {
				return nil, newError(ErrNotSupported, "UseInternalSecurityAPI=False: wsserver always uses Go's crypto/tls; there is no system security library to switch to")
			}
			return func(*Server) error { return nil }, nil
		}},

	// Settings of ours.
	intSetting("LogLevel", "wsserver", "verbosity of the Log event: 0 none, 1 info, 2 verbose, 3 debug", 0, 3,
		func(c *settings) *int { return &c.logLevel }),
	int64Setting("MaxMessageSize", "wsserver", "largest incoming message after decompression; larger ones close with 1009 (0: no limit; default 64 MiB)", 0, 1<<62,
		func(c *settings) *int64 { return &c.maxMessageSize }),
	intSetting("SendQueueSize", "wsserver", "bytes a connection may queue before sends fail with 10035 (default 4 MiB; OutBufferSize overrides)", 1, 1<<40,
		func(c *settings) *int { return &c.sendQueueSize }),
	secondsSetting("HandshakeTimeout", "wsserver", "seconds a client has to send its opening handshake (default 30)",
		func(c *settings) *time.Duration { return &c.handshakeTimeout }),
	secondsSetting("CloseTimeout", "wsserver", "seconds to wait for the client's close frame (default 5)",
		func(c *settings) *time.Duration { return &c.closeTimeout }),
	intSetting("CompressionLevel", "wsserver", "deflate level 1 (fastest) to 9 (smallest), -2 Huffman only (default 1)", -2, 9,
		func(c *settings) *int { return &c.compressionLevel }),
	intSetting("CompressionThreshold", "wsserver", "smallest message compressed when permessage-deflate is on (default 32)", 0, 1<<30,
		func(c *settings) *int { return &c.compressMin }),
	boolSetting("EventLoop", "wsserver", "serve open plaintext connections from epoll loops: no goroutine or buffer per idle connection; handlers must not block (new connections)",
		func(c *settings) *bool { return &c.eventLoop }),
	durationSetting("EventLoopSpin", "wsserver", "microseconds an event loop keeps polling for more data after serving this server's connections before it sleeps (default 0: sleep at once; new connections): it spares wake-ups, about halving a round trip, at the cost of a core while a conversation goes on; at most half the loops (at least one) poll at a time, and a loop whose polls find nothing backs off", time.Microsecond, 0, 10000,
		func(c *settings) *int { return &c.eventLoopSpin }),
	boolSetting("ServerNoContextTakeover", "wsserver", "answer permessage-deflate with server_no_context_takeover (default True): compressors are pooled and shared; False keeps a compressor per connection (about 0.8 MiB each at level 1) for better ratios",
		func(c *settings) *bool { return &c.serverNoContextTakeover }),
	{name: "AllowedOrigins", group: "wsserver", kind: kindString, doc: "origins whose pages may open WebSockets, checked before WebSocketOpenRequest (refused: 403): comma-separated same-origin, * (any) or host patterns with * and ?, optionally with a scheme (https://*.example.com); requests without Origin pass (default same-origin)",
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.cfg.allowedOrigins.text
		},
		parse: func(v string) (change, error) {
			p, err := parseOriginPolicy(v)
			if err != nil {
				return nil, err
			}
			return store(func(c *settings) **originPolicy { return &c.allowedOrigins }, p), nil
		}},

	// Liveness and limits (liveness.go).
	optionalSecondsSetting("SlowClientTimeout", "wsserver", "seconds queued output may wait without a byte written before the client is cut off with 1008 (default 60; 0: never; new connections); meanwhile a client whose queue is over its limit is not read",
		func(c *settings) *time.Duration { return &c.slowClientTimeout }),
	int64Setting("MemoryBudget", "wsserver", "bytes the server may hold for all its clients' messages, queues, decompressors and request heads; past it the heaviest connections over their share (the budget / MaxConnections) are held back and, after OverBudgetTimeout, cut off (1013); 0 (default): MaxConnections x 1 MiB, at least 64 MiB, at most half the machine's memory (Server.MemoryBudget gives the budget in effect; new connections)", 0, 1<<50,
		func(c *settings) *int64 { return &c.memoryBudget }),
	optionalSecondsSetting("OverBudgetTimeout", "wsserver", "seconds a connection over its share of MemoryBudget may stay held back (not read) while the server is over the budget, before it is cut off with 1013 and an Error event (default 5; 0: held back, never cut off)",
		func(c *settings) *time.Duration { return &c.overBudgetTimeout }),
	optionalSecondsSetting("PingInterval", "wsserver", "heartbeat: seconds without a read from a client after which the server pings it (default 0: no heartbeat; new connections); Connection.PingRTT gives the measured round trip",
		func(c *settings) *time.Duration { return &c.pingInterval }),
	secondsSetting("PongTimeout", "wsserver", "heartbeat: seconds a client has to answer a heartbeat ping (with anything) before it is cut off, reported with an Error (10060) and Disconnected 1006 (default 30; new connections)",
		func(c *settings) *time.Duration { return &c.pongTimeout }),
	intSetting("MaxConnectionsPerIP", "wsserver", "connections one client (an IPv4 address, or an IPv6 /64) may hold at once; more get HTTP 429 with Retry-After (default 0: no limit)", 0, maxMaxConnections,
		func(c *settings) *int { return &c.maxConnsPerIP }),
	intSetting("HandshakesPerMinutePerIP", "wsserver", "connections per minute one client (an IPv4 address, or an IPv6 /64) may open, in bursts of up to one second's worth (at least one); more get HTTP 429 with Retry-After (default 0: no limit)", 0, 1<<30,
		func(c *settings) *int { return &c.handshakesPerMinute }),
	intSetting("MaxMessagesPerSecond", "wsserver", "messages (control frames included) per second a connection may send, in bursts of up to one second's worth; a faster client is closed with 1008 (default 0: no limit; new connections)", 0, 1<<30,
		func(c *settings) *int { return &c.msgRate }),
	intSetting("MaxRequestHeadSize", "wsserver", "largest opening handshake request head in bytes, on the listener and through ServeHTTP; larger ones get HTTP 431 (default 16384)", 1024, 1<<20,
		func(c *settings) *int { return &c.maxHeadSize }),
}

func buildInfo() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += "+" + s.Value[:12]
			}
		}
	}
	return fmt.Sprintf("wsserver %s (%s %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
