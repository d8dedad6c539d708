package wsserver

import (
	"time"

	"github.com/wsserver/wsserver/internal/handshake"
)

// settings holds the values of the config settings. Server.mu guards it;
// connections copy what they need when they open.
type settings struct {
	// WebSocketServer group.
	bufferMessage        bool
	disconnectCode       int
	disconnectReason     string
	disconnectReasonSet  bool
	permessageDeflate    bool
	maxFrameSize         int
	defaultMaxLineLength int
	waitForCloseResponse bool

	// TCPServer group.
	allowedClients           string
	blockedClients           string
	bindExclusively          bool
	closeStreamAfterTransfer bool
	defaultConnectionTimeout int // seconds, for TLS handshakes
	inBufferSize             int // 0: system default
	outBufferSize            int // 0: system default
	keepAliveTime            int // ms, 0: system default
	keepAliveInterval        int // ms, 0: system default
	maxConnections           int
	tcpNoDelay               bool
	useIPv6                  int

	// Base group.
	codePage      int
	maskSensitive bool
	logLevel      int

	// Our own settings.
	maxMessageSize          int64 // bytes after decompression; 0: no limit
	sendQueueSize           int   // bytes queued per connection before ErrWouldBlock
	handshakeTimeout        time.Duration
	closeTimeout            time.Duration
	compressionLevel        int
	serverNoContextTakeover bool
	compressMin             int           // smallest message compressed
	eventLoop               bool          // serve open plaintext connections on epoll loops
	eventLoopSpin           int           // microseconds a loop polls after serving this server's connections
	allowedOrigins          *originPolicy // AllowedOrigins, parsed (origin.go)
	slowClientTimeout       time.Duration
	overBudgetTimeout       time.Duration // held back by the budget sweep this long: cut off (0: never)
	memoryBudget            int64         // bytes; 0: derived from MaxConnections and the machine
	maxHeadSize             int           // bytes of an opening handshake's request head
	pingInterval            time.Duration
	pongTimeout             time.Duration
	maxConnsPerIP           int // 0: no limit
	handshakesPerMinute     int // per client; 0: no limit
	msgRate                 int // messages per second per connection; 0: no limit

	// SSL group (see tls.go).
	ssl sslSettings
}

// Defaults of the settings whose reference default is not a zero value.
const (
	defaultMaxFrameSize     = 131072
	defaultMaxLineLength    = 2048
	defaultMaxConnections   = 1000
	maxMaxConnections       = 100000
	defaultMaxMessageSize   = 64 << 20
	defaultSendQueueSize    = 4 << 20
	defaultHandshakeTimeout = 30 * time.Second
	defaultCloseTimeout     = 5 * time.Second
	defaultCodePage         = 65001
	defaultSlowClient       = 60 * time.Second
	defaultOverBudget       = 5 * time.Second
	defaultPongTimeout      = 30 * time.Second
)

func defaultSettings() settings {
	return settings{
		disconnectCode:           1000,
		permessageDeflate:        true,
		maxFrameSize:             defaultMaxFrameSize,
		defaultMaxLineLength:     defaultMaxLineLength,
		waitForCloseResponse:     true,
		allowedClients:           "*",
		allowedOrigins:           mustOriginPolicy(defaultAllowedOrigins),
		bindExclusively:          true,
		closeStreamAfterTransfer: true,
		maxConnections:           defaultMaxConnections,
		codePage:                 defaultCodePage,
		maskSensitive:            true,
		logLevel:                 1,
		maxMessageSize:           defaultMaxMessageSize,
		sendQueueSize:            defaultSendQueueSize,
		handshakeTimeout:         defaultHandshakeTimeout,
		closeTimeout:             defaultCloseTimeout,
		compressionLevel:         1,
		compressMin:              32,
		serverNoContextTakeover:  true,
		slowClientTimeout:        defaultSlowClient,
		overBudgetTimeout:        defaultOverBudget,
		maxHeadSize:              handshake.MaxRequestSize,
		pongTimeout:              defaultPongTimeout,
		ssl:                      defaultSSLSettings(),
	}
}

// queueLimit is the number of bytes a connection may hold in its outgoing
// queue before a non-blocking send fails with ErrWouldBlock: OutBufferSize
// when set, else SendQueueSize.
func (st *settings) queueLimit() int {
	if st.outBufferSize > 0 {
		return st.outBufferSize
	}
	return st.sendQueueSize
}
