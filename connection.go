package wsserver

import (
	"crypto/tls"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsserver/wsserver/internal/deflate"
	"github.com/wsserver/wsserver/internal/protocol"
	"github.com/wsserver/wsserver/internal/transport"
)

// Connection is one connected WebSocket client: an entry of the reference's
// Connections collection, with the fields of its WSConnection type. Its
// methods are safe for concurrent use.
type Connection struct {
	srv  *Server
	id   int
	sock transport.Conn // the socket; a TLS handshake replaces it before the connection opens
	opts *connOptions   // shared by the connections opened with the same settings

	// Set while the connection opens, read-only once it is in Connections.
	remoteHost     string
	localAddr      *localAddr // shared by the connections on one local address
	host           string
	origin         string
	uri            string
	requestHeaders string
	subProtocols   string // the client's Sec-WebSocket-Protocol list
	protocol       string // the subprotocol selected
	extensions     string // the Sec-WebSocket-Extensions response

	ext atomic.Pointer[connExt] // Value, Context, the request during the handshake: nil until used

	evmu         sync.Mutex   // held while one of this connection's handlers runs
	readyPending atomic.Bool  // a ReadyToSend waits for evmu
	lineMode     atomic.Bool  // LineMode: read on every piece of data, so lock-free
	pendingLine  atomic.Int32 // LineMode: length of the line being received (MaxLineLength is at most 1 GiB)
	// Set while the connection opens, as the strings above; here they fill
	// pendingLine's word. (Every idle connection holds a Connection: its
	// size is kept within a 384-byte size class.)
	remotePort    uint16
	sharedDeflate bool         // permessage-deflate without server context takeover: any compressor's output fits
	lastRTT       atomic.Int64 // nanoseconds: the last ping's round trip (metrics.go)

	// Used only by the connection's reader: its goroutine or event loop.
	*readState                 // made when the first data arrives
	hs         *handshakeState // the opening handshake (stage_handshake.go), until it ends

	mu            sync.Mutex // guards the fields below
	*sendState               // made by the first send (sendingLocked)
	timeout       int
	maxLineLength int
	bytesSent     int
	deflater      *deflate.Compressor // set before the connection opens
	live          *liveState          // the connection's entry in the server's wheel, once needed
	mem           memAccount          // the memory budget's account of the connection (budget.go)
	acceptData    bool
	throttled     bool // an event loop stopped reading: the queue is over its limit
	readyToSend   bool
	wantReady     bool      // a send failed with ErrWouldBlock
	state         connState // a close frame queued (stateClosing) made the sendState; readFailed and cleanup may not have
	dataFormat    int8      // DataFormat
	// batching: the reader is handling a batch of frames and writes the
	// queue after it (endBatch), so that the replies to a batch go out in
	// one write; meanwhile scheduleFlushLocked starts no flusher. It is a
	// flag beside the queue's writer, not one of its states, because the
	// two are orthogonal: a flusher may still be writing (writerFlushing)
	// while the reader handles its next batch, and the reader claims the
	// writer only once its batch ends. It is the Connection's, not the
	// queue's, so that a batch that queues nothing makes no queue: an
	// idle connection has none.
	batching bool
	stats    connCounters // traffic counters (metrics.go); the In ones are the reader's
}

// sendState is the state of a connection's sending and closing, made by its
// first send (or Interrupt, MessageLength, a close), so that an idle
// connection does not carry it. Guarded by the connection's mu.
type sendState struct {
	q sendQueue // the send queue (sendqueue.go)

	// The close handshake and the liveness of the connection.
	pongWait   chan struct{} // closed when a pong arrives
	sentCode   int           // the close code the server sent
	sentReason string        // and its reason
	peerCode   int           // the close code the client sent (0: none yet)
	peerReason string
	appHeld    int64 // bytes the application charged (ChargeMemory)
}

// tlsConn returns the connection's TLS connection, nil for plaintext.
func (c *Connection) tlsConn() *tls.Conn {
	if c.sock == nil {
		return nil
	}
	return c.sock.TLS()
}

// sendingLocked returns the send state, making it on first use. c.mu is
// held.
func (c *Connection) sendingLocked() *sendState {
	if c.sendState == nil {
		c.sendState = &sendState{q: sendQueue{c: c}}
	}
	return c.sendState
}

// readState is the reader's state: made when the first data arrives (or
// permessage-deflate is negotiated), so that an idle connection does not
// carry it.
type readState struct {
	rd         protocol.Reader
	msgBuf     []byte // BufferMessage: the message so far
	midMsg     bool   // a message has begun delivering pieces
	inflater   *deflate.Decompressor
	dataIn     DataInEvent
	msgEv      MessageEvent
	pingEv     PingEvent
	lineBuf    []byte  // LineMode: the line so far
	carry      [4]byte // the start of a UTF-8 sequence split between pieces
	carryN     int
	scratch    []byte
	heldMsg    int64   // msgBuf bytes charged to the memory budget
	rateTokens float64 // MaxMessagesPerSecond: messages the client may send now
	rateLast   int64   // when rateTokens was brought up to date (Unix ns)
}

// reading returns the reader's state, making it on first use. Only the
// connection's reader calls it (or upgrade, before there is one).
func (c *Connection) reading() *readState {
	if c.readState == nil {
		c.readState = &readState{rd: protocol.Reader{MaxMessageSize: c.opts.maxMessageSize}}
	}
	return c.readState
}

// connState is where a connection is in its life.
type connState uint8

const (
	stateOpen    connState = iota
	stateClosing           // a close frame was sent; waiting for the client's
	stateClosed            // the socket is closed
)

// connOptions are the settings a connection copies when it opens.
type connOptions struct {
	bufferMessage  bool
	maxFrameSize   int
	queueLimit     int
	waitForClose   bool
	closeTimeout   int64 // nanoseconds
	compressMin    int
	codePage       int
	maxMessageSize int64

	slowClientTimeout time.Duration // output without progress this long cuts the client off (0: never)
	budget            int64         // the server's memory budget (MemoryBudget)
	share             int64         // a connection's share of it: budget / MaxConnections
	pingInterval      time.Duration // heartbeat: a ping after this long without a read (0: none)
	pongTimeout       time.Duration // heartbeat: the time a ping has to be answered
	msgRate           float64       // MaxMessagesPerSecond (0: no limit)
}

// ID returns the ConnectionId.
func (c *Connection) ID() int { return c.id }

// AcceptData reports whether data reception is enabled (default true).
func (c *Connection) AcceptData() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acceptData
}

// SetAcceptData disables (false) or re-enables (true) data reception and the
// DataIn event. While disabled the server stops reading from the socket, so
// TCP flow control holds the client back.
func (c *Connection) SetAcceptData(accept bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if accept == c.acceptData {
		return
	}
	c.acceptData = accept
	c.setReadingLocked(accept && !c.throttled)
}

// setReadingLocked turns the reading of the socket on or off: an event
// loop's, or the reader goroutine's, which waits before its next read.
// c.mu is held.
func (c *Connection) setReadingLocked(on bool) {
	c.sock.SetReading(on)
}

// PauseData stops data reception; ProcessData resumes it.
func (c *Connection) PauseData() { c.SetAcceptData(false) }

// ProcessData resumes data reception stopped by PauseData.
func (c *Connection) ProcessData() { c.SetAcceptData(true) }

// BytesSent returns how many bytes the last send accepted: all of them, or 0
// when it failed with ErrWouldBlock. It is 0 in blocking mode (Timeout > 0).
func (c *Connection) BytesSent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytesSent
}

// Connected reports whether the connection is open.
func (c *Connection) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateOpen
}

// SetConnected(false) disconnects the client, as Disconnect does; true has no
// effect on an open connection and is an error on a closed one.
func (c *Connection) SetConnected(connected bool) error {
	if connected {
		if !c.Connected() {
			return newError(ErrNotConnected, "connection %d cannot be reopened", c.id)
		}
		return nil
	}
	c.disconnect(0, "")
	return nil
}

// DataFormat returns the format SetDataToSend uses (default FormatAutomatic).
func (c *Connection) DataFormat() DataFormat {
	c.mu.Lock()
	defer c.mu.Unlock()
	return DataFormat(c.dataFormat)
}

// SetDataFormat sets the format of data sent with SetDataToSend: automatic,
// text, binary, ping or pong.
func (c *Connection) SetDataFormat(f DataFormat) error {
	switch f {
	case FormatAutomatic, FormatText, FormatBinary, FormatPing, FormatPong:
	default:
		return newError(ErrInvalidValue, "DataFormat %d is not one of 0, 1, 2, 9, 10", f)
	}
	c.mu.Lock()
	c.dataFormat = int8(f)
	c.mu.Unlock()
	return nil
}

// SetDataToSend sends s in the connection's DataFormat (text when automatic).
// As text, s is Go (UTF-8) text whatever the CodePage.
func (c *Connection) SetDataToSend(s string) error {
	f := c.DataFormat()
	if f == FormatAutomatic || f == FormatText {
		return c.sendText([]byte(s))
	}
	return c.sendFormat(f, []byte(s), FormatText)
}

// SetDataToSendB sends b in the connection's DataFormat (binary when
// automatic). As text, b is in the CodePage.
func (c *Connection) SetDataToSendB(b []byte) error {
	return c.sendFormat(c.DataFormat(), b, FormatBinary)
}

// Host returns the client's Host header.
func (c *Connection) Host() string { return c.host }

// LineMode reports whether DataIn fires per line; ChangeLineMode sets it.
func (c *Connection) LineMode() bool { return c.lineMode.Load() }

// LocalAddress returns the server's IP address on this connection.
func (c *Connection) LocalAddress() string {
	if c.localAddr == nil {
		return ""
	}
	return c.localAddr.text
}

// Origin returns the client's Origin header.
func (c *Connection) Origin() string { return c.origin }

// ReadyToSend reports whether a send can be queued: true once open, false
// after a send failed with ErrWouldBlock until the ReadyToSend event.
func (c *Connection) ReadyToSend() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readyToSend && c.state == stateOpen
}

// RemoteHost returns the client's IP address.
func (c *Connection) RemoteHost() string { return c.remoteHost }

// RemotePort returns the client's TCP port.
func (c *Connection) RemotePort() int { return int(c.remotePort) }

// RequestHeaders returns the headers of the opening handshake, as
// "Name: Value" lines joined by CRLF.
func (c *Connection) RequestHeaders() string { return c.requestHeaders }

// RequestURI returns the request target of the opening handshake.
func (c *Connection) RequestURI() string { return c.uri }

// SubProtocols returns the subprotocols the client asked for, comma-separated.
func (c *Connection) SubProtocols() string { return c.subProtocols }

// SelectedSubProtocol returns the subprotocol the server selected, or "".
func (c *Connection) SelectedSubProtocol() string { return c.protocol }

// Extensions returns the extensions in use, as sent in the handshake response.
func (c *Connection) Extensions() string { return c.extensions }

// Timeout returns the connection's timeout in seconds (0: asynchronous).
func (c *Connection) Timeout() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeout
}

// SetTimeout sets the timeout in seconds. With 0 sends never block and fail
// with ErrWouldBlock when the outgoing queue is full; with a positive value
// sends block until written, failing with ErrTimedOut after that many seconds
// without progress.
func (c *Connection) SetTimeout(seconds int) error {
	if seconds < 0 {
		return newError(ErrInvalidValue, "Timeout must not be negative, got %d", seconds)
	}
	c.mu.Lock()
	c.timeout = seconds
	c.mu.Unlock()
	return nil
}

// MaxLineLength returns the longest line DataIn delivers in LineMode.
func (c *Connection) MaxLineLength() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxLineLength
}

// SetMaxLineLength sets the longest line DataIn delivers in LineMode; a
// longer line is delivered in pieces with EOL false. It fails with 112 when
// a line longer than n is being received.
func (c *Connection) SetMaxLineLength(n int) error {
	if n < 1 {
		return newError(ErrInvalidValue, "MaxLineLength must be at least 1, got %d", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lineMode.Load() && int(c.pendingLine.Load()) > n {
		return ErrMaxLineLengthLocked
	}
	c.maxLineLength = n
	return nil
}

// MessageLength returns how many bytes of the current MessageLength message
// are still to be sent.
func (c *Connection) MessageLength() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sendState == nil {
		return 0
	}
	return c.q.messageLength
}

// SetMessageLength makes the next n bytes of sends one message: sends before
// the n-th byte go out as fragments without FIN, the one reaching it ends the
// message (the reference's MessageLength[ConnectionId]). 0 cancels it when no
// part has been sent yet.
func (c *Connection) SetMessageLength(n int64) error {
	if n < 0 {
		return newError(ErrInvalidValue, "MessageLength must not be negative, got %d", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queueLocked()
	if q.msgOpen {
		return newError(ErrInvalidValue, "a MessageLength message is being sent: %d bytes remain", q.messageLength)
	}
	q.messageLength = n
	return nil
}
