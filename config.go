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
type setting struct {
	name  string
	group string
	get   func(s *Server) string
	set   func(s *Server, v string) error // nil: read-only
	// connGet and connSet serve "Name[ConnectionId]"; nil when the setting
	// has no per-connection form.
	connGet func(c *Connection) string
	connSet func(c *Connection, v string) error
	doc     string
}

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
	if st.set == nil {
		if st.get == nil {
			return "", newError(ErrInvalidValue, "%s needs a [ConnectionId], e.g. %s[1]=...", st.name, st.name)
		}
		return "", newError(ErrInvalidValue, "%s is read-only", st.name)
	}
	return "", st.set(s, strings.TrimSpace(value))
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

// Helpers building table entries for settings held in s.cfg.

func boolSetting(name, group, doc string, field func(*settings) *bool) setting {
	return setting{name: name, group: group, doc: doc,
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return formatBool(*field(&s.cfg))
		},
		set: func(s *Server, v string) error {
			b, err := parseBool(name, v)
			if err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			*field(&s.cfg) = b
			return nil
		}}
}

func intSetting(name, group, doc string, lo, hi int64, field func(*settings) *int) setting {
	return setting{name: name, group: group, doc: doc,
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return strconv.Itoa(*field(&s.cfg))
		},
		set: func(s *Server, v string) error {
			n, err := parseInt(name, v, lo, hi)
			if err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			*field(&s.cfg) = int(n)
			return nil
		}}
}

func stringSetting(name, group, doc string, field func(*settings) *string) setting {
	return setting{name: name, group: group, doc: doc,
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return *field(&s.cfg)
		},
		set: func(s *Server, v string) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			*field(&s.cfg) = v
			return nil
		}}
}

func secondsSetting(name, group, doc string, field func(*settings) *time.Duration) setting {
	return setting{name: name, group: group, doc: doc,
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return strconv.FormatFloat(field(&s.cfg).Seconds(), 'f', -1, 64)
		},
		set: func(s *Server, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0 && f <= 86400) { // NaN fails too
				return newError(ErrInvalidValue, "%s takes seconds (0 < n <= 86400), not %q", name, v)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			*field(&s.cfg) = time.Duration(f * float64(time.Second))
			return nil
		}}
}

// Version is the version of wsserver, reported by BuildInfo.
const Version = "0.1.0"

var settingTable = []setting{
	// WebSocketServer settings.
	boolSetting("BufferMessage", "WebSocketServer", "whole messages in one DataIn (new connections)",
		func(c *settings) *bool { return &c.bufferMessage }),
	{name: "DisconnectStatusCode", group: "WebSocketServer", doc: "close code Disconnect sends (default 1000)",
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return strconv.Itoa(s.cfg.disconnectCode)
		},
		set: func(s *Server, v string) error {
			n, err := parseInt("DisconnectStatusCode", v, 1000, 4999)
			if err != nil {
				return err
			}
			if !validSendCloseCode(int(n)) {
				return newError(ErrInvalidValue, "DisconnectStatusCode %d may not be sent (RFC 6455 section 7.4.1: use 1000-1003, 1007-1014 or 3000-4999)", n)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.cfg.disconnectCode = int(n)
			return nil
		}},
	{name: "DisconnectStatusDescription", group: "WebSocketServer", doc: "reason Disconnect sends (default: the standard code's description)",
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.cfg.disconnectReasonSet {
				return protocol.DefaultCloseReason(s.cfg.disconnectCode)
			}
			return s.cfg.disconnectReason
		},
		set: func(s *Server, v string) error {
			if len(v) > 123 {
				return newError(ErrInvalidValue, "DisconnectStatusDescription is %d bytes; a close frame holds at most 123", len(v))
			}
			if !validText([]byte(v)) {
				return newError(ErrInvalidValue, "DisconnectStatusDescription must be UTF-8")
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.cfg.disconnectReason, s.cfg.disconnectReasonSet = v, true
			return nil
		}},
	boolSetting("EnablePermessageDeflate", "WebSocketServer", "accept permessage-deflate (RFC 7692) offers",
		func(c *settings) *bool { return &c.permessageDeflate }),
	intSetting("MaxFrameSize", "WebSocketServer", "largest outgoing frame payload before fragmentation (new connections)", 1, 1<<31-1,
		func(c *settings) *int { return &c.maxFrameSize }),
	{name: "MaxLineLength", group: "WebSocketServer", doc: "LineMode line limit; [ConnectionId] for one connection, plain for new ones",
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return strconv.Itoa(s.cfg.defaultMaxLineLength)
		},
		set: func(s *Server, v string) error {
			n, err := parseInt("MaxLineLength", v, 1, 1<<30)
			if err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.cfg.defaultMaxLineLength = int(n)
			return nil
		},
		connGet: func(c *Connection) string { return strconv.Itoa(c.MaxLineLength()) },
		connSet: func(c *Connection, v string) error {
			n, err := parseInt("MaxLineLength", v, 1, 1<<30)
			if err != nil {
				return err
			}
			return c.SetMaxLineLength(int(n))
		}},
	{name: "MessageLength", group: "WebSocketServer", doc: "make the next N bytes of sends one message ([ConnectionId] required)",
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
	intSetting("DefaultConnectionTimeout", "TCPServer", "TLS handshake inactivity timeout in seconds (0: none; HandshakeTimeout bounds the whole handshake)", 0, 86400,
		func(c *settings) *int { return &c.defaultConnectionTimeout }),
	intSetting("InBufferSize", "TCPServer", "SO_RCVBUF of new connections (0: system default)", 0, 1<<30,
		func(c *settings) *int { return &c.inBufferSize }),
	intSetting("KeepAliveInterval", "TCPServer", "TCP keep-alive retry interval in ms (0: system default)", 0, 1<<31-1,
		func(c *settings) *int { return &c.keepAliveInterval }),
	intSetting("KeepAliveTime", "TCPServer", "TCP keep-alive idle time in ms (0: system default)", 0, 1<<31-1,
		func(c *settings) *int { return &c.keepAliveTime }),
	{name: "MaxConnections", group: "TCPServer", doc: "simultaneous connections, 1 to 100000; fixed while listening",
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return strconv.Itoa(s.cfg.maxConnections)
		},
		set: func(s *Server, v string) error {
			n, err := parseInt("MaxConnections", v, 1, maxMaxConnections)
			if err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.ln != nil || s.active > 0 {
				return ErrMaxConnectionsLocked
			}
			s.cfg.maxConnections = int(n)
			return nil
		}},
	intSetting("OutBufferSize", "TCPServer", "SO_SNDBUF of new connections and the per-connection send queue limit (0: system default, queue SendQueueSize)", 0, 1<<30,
		func(c *settings) *int { return &c.outBufferSize }),
	boolSetting("TcpNoDelay", "TCPServer", "disable Nagle's algorithm on new connections",
		func(c *settings) *bool { return &c.tcpNoDelay }),
	intSetting("UseIPv6", "TCPServer", "0 IPv4 only, 1 IPv6 only, 2 both", 0, 2,
		func(c *settings) *int { return &c.useIPv6 }),

	// Base settings.
	{name: "BuildInfo", group: "Base", doc: "version and build of wsserver", get: func(*Server) string { return buildInfo() }},
	{name: "CodePage", group: "Base", doc: "encoding of TextB for text data (65001 UTF-8 default)",
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return strconv.Itoa(s.cfg.codePage)
		},
		set: func(s *Server, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return newError(ErrInvalidValue, "CodePage takes a code page number, not %q", v)
			}
			if _, err := codePageEncoding(n); err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.cfg.codePage = n
			return nil
		}},
	{name: "LicenseInfo", group: "Base", doc: "license of wsserver", get: func(*Server) string {
		return "Product: wsserver\r\nProduct Key: none (open source)\r\nLicense Source: source code\r\nLicense Type: MIT\r\nLast Valid Build: any"
	}},
	boolSetting("MaskSensitive", "Base", "mask Authorization, Cookie and passwords in Log messages",
		func(c *settings) *bool { return &c.maskSensitive }),
	{name: "UseInternalSecurityAPI", group: "Base", doc: "always True: TLS is Go's crypto/tls",
		get: func(*Server) string { return "True" },
		set: func(s *Server, v string) error {
			b, err := parseBool("UseInternalSecurityAPI", v)
			if err != nil {
				return err
			}
			if !b {
				return newError(ErrNotSupported, "UseInternalSecurityAPI=False: wsserver always uses Go's crypto/tls; there is no system security library to switch to")
			}
			return nil
		}},

	// Settings of ours.
	intSetting("LogLevel", "wsserver", "verbosity of the Log event: 0 none, 1 info, 2 verbose, 3 debug", 0, 3,
		func(c *settings) *int { return &c.logLevel }),
	{name: "MaxMessageSize", group: "wsserver", doc: "largest incoming message after decompression; larger ones close with 1009 (0: no limit; default 64 MiB)",
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return strconv.FormatInt(s.cfg.maxMessageSize, 10)
		},
		set: func(s *Server, v string) error {
			n, err := parseInt("MaxMessageSize", v, 0, 1<<62)
			if err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.cfg.maxMessageSize = n
			return nil
		}},
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
	intSetting("EventLoopSpin", "wsserver", "microseconds an event loop keeps polling for more data after serving this server's connections before it sleeps (default 0: sleep at once; new connections): it spares wake-ups, about halving a round trip, at the cost of a core while a conversation goes on; at most half the loops (at least one) poll at a time, and a loop whose polls find nothing backs off", 0, 10000,
		func(c *settings) *int { return &c.eventLoopSpin }),
	boolSetting("ServerNoContextTakeover", "wsserver", "answer permessage-deflate with server_no_context_takeover (default True): compressors are pooled and shared; False keeps a compressor per connection (about 0.8 MiB each at level 1) for better ratios",
		func(c *settings) *bool { return &c.serverNoContextTakeover }),
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
