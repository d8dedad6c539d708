package wsserver

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// Events holds the server's event handlers, one optional func per event of the
// reference. Set them before StartListening (or before the first ServeHTTP)
// and leave them unchanged afterwards.
//
// Where events run: by default every event of a connection runs on that
// connection's own goroutine, or on the goroutine that caused it (a
// ReadyToSend on the goroutine that drained the queue), and never two at a
// time for one connection: a connection's events are serialized, in the order
// they happened. Events of different connections run concurrently. With the
// EventLoop setting, an open plaintext connection's events run on the epoll
// loop serving it, shared with other connections: handlers must not block.
// With SetEventDispatch(DispatchQueued) every event instead waits in a queue
// until the application calls DoEvents, and runs on the goroutine calling it.
//
// Each event gets a pointer to its parameters, valid only during the call:
// the server reuses the structs, and byte slices in them point into its
// buffers. Copy what must outlive the handler. Handlers may set the fields the
// reference marks as var parameters (Accept, SubProtocols, StatusCode,
// ResponseHeaders, CertStore...) before returning.
//
// A handler that panics does not bring the server down: the panic is reported
// through OnError (code 1011) and the connection is closed with 1011
// (internal error); other connections are unaffected.
type Events struct {
	// OnConnected fires when a WebSocket is open (after the 101 response).
	OnConnected func(*ConnectedEvent)
	// OnConnectionRequest fires for each accepted TCP connection, before the
	// TLS and WebSocket handshakes; Accept=false drops it.
	OnConnectionRequest func(*ConnectionRequestEvent)
	// OnDataIn fires for received data: per fragment (or piece of one), per
	// whole message with BufferMessage, or per line in LineMode.
	OnDataIn func(*DataInEvent)
	// OnMessage fires once per whole message received, with its format and
	// all of its data (at most MaxMessageSize bytes), whatever BufferMessage
	// and LineMode say: the Go-native way to receive. OnDataIn, when also
	// set, still fires as the reference says, before OnMessage for the
	// message's last piece.
	OnMessage func(*MessageEvent)
	// OnDisconnected fires once when a connection that fired Connected ends.
	OnDisconnected func(*DisconnectedEvent)
	// OnError fires for errors during data delivery that no method returned.
	OnError func(*ErrorEvent)
	// OnLog fires for each log message at or below the LogLevel setting.
	OnLog func(*LogEvent)
	// OnPing fires when a ping (Response=false) or pong (Response=true)
	// arrives. Pongs answering pings are sent automatically.
	OnPing func(*PingEvent)
	// OnReadyToSend fires when a connection opens and after a send failed
	// with ErrWouldBlock, once the outgoing queue has drained.
	OnReadyToSend func(*ReadyToSendEvent)
	// OnSSLClientAuthentication fires during each TLS handshake with
	// SSLAuthenticateClients, with the client's certificate, or with none and
	// a Status that says so; Accept decides whether the connection goes on.
	// crypto/tls checks the client's proof of its key (CertificateVerify)
	// after this event: act on the identity once Connected fires.
	OnSSLClientAuthentication func(*SSLClientAuthenticationEvent)
	// OnSSLConnectionRequest fires when a TLS ClientHello arrives; it may pick
	// another certificate for this connection.
	OnSSLConnectionRequest func(*SSLConnectionRequestEvent)
	// OnSSLStatus reports the progress of TLS handshakes, and with
	// LogSSLPackets every TLS record sent and received; record messages fire
	// on whichever goroutine reads or writes the socket, outside the
	// connection's event serialization, so their handler must not block.
	OnSSLStatus func(*SSLStatusEvent)
	// OnWebSocketOpenRequest fires for each WebSocket opening handshake; set
	// StatusCode to refuse it, SubProtocols to choose a subprotocol.
	OnWebSocketOpenRequest func(*WebSocketOpenRequestEvent)
}

// ConnectedEvent is the Connected event's parameters.
type ConnectedEvent struct {
	ConnectionID int
	// Connection is the connection that opened; its Request is the opening
	// handshake's until the handler returns.
	Connection *Connection
}

// ConnectionRequestEvent is the ConnectionRequest event's parameters.
type ConnectionRequestEvent struct {
	Address string // the client's IP address
	Port    int    // the client's port
	// Accept starts true, or false when AllowedClients/BlockedClients refuse
	// the address; the handler's value decides.
	Accept bool
}

// DataFormat is the format of data sent or received (the reference's
// TipwDataFormats and DataIn's DataFormat parameter).
type DataFormat int

// The data formats of the reference.
const (
	// FormatAutomatic sends strings as text and byte slices as binary. In
	// DataIn, 0 marks a continuation piece of a message, and every line in
	// LineMode.
	FormatAutomatic DataFormat = 0
	FormatText      DataFormat = 1  // UTF-8 text
	FormatBinary    DataFormat = 2  // binary data
	FormatPing      DataFormat = 9  // a ping control frame
	FormatPong      DataFormat = 10 // a pong control frame
)

// DataInEvent is the DataIn event's parameters.
type DataInEvent struct {
	ConnectionID int
	// DataFormat is FormatText or FormatBinary for the first piece of a
	// message, and 0 for its continuation pieces and for every line in LineMode.
	DataFormat DataFormat
	// TextB is the data. It points into the server's buffers and is valid
	// only during the call.
	TextB []byte
	// EOM (end of message) is true when this piece ends a message.
	EOM bool
	// EOL (end of line) is true in LineMode when a line break ended the
	// line, false when MaxLineLength did, and always false outside LineMode.
	EOL bool

	utf8 []byte // the text as UTF-8 when TextB holds it in another CodePage
}

// Text returns the data as a string (the reference's Text parameter). A text
// message's pieces are always whole UTF-8 sequences; binary data is returned
// as it is. With a CodePage other than UTF-8, TextB holds text in that code
// page and Text still returns it as a Go (UTF-8) string.
func (e *DataInEvent) Text() string {
	if e.utf8 != nil {
		return string(e.utf8)
	}
	return string(e.TextB)
}

// MessageEvent is the parameters of OnMessage: one whole message.
type MessageEvent struct {
	ConnectionID int
	// Connection is the connection the message came on: its Value, Context
	// and methods are at hand without a lookup.
	Connection *Connection
	// DataFormat is FormatText or FormatBinary.
	DataFormat DataFormat
	// Data is the whole message as received: UTF-8 for text, whatever the
	// CodePage. It points into the server's buffers and is valid only during
	// the call: copy what must outlive it.
	Data []byte
}

// Text returns the message as a string (a copy).
func (e *MessageEvent) Text() string { return string(e.Data) }

// Reader returns an io.Reader over the message, valid, like Data, only
// during the call: for decoders that read (json.NewDecoder, xml, csv...).
func (e *MessageEvent) Reader() io.Reader { return bytes.NewReader(e.Data) }

// DisconnectedEvent is the Disconnected event's parameters.
type DisconnectedEvent struct {
	ConnectionID int
	// Connection is the connection that ended (no longer in Connections):
	// its Value is still there.
	Connection *Connection
	// StatusCode is the close code the connection ended with: the client's
	// code, the server's when the server closed first and got no reply, 1005
	// when a close frame had no code, and 1006 when the connection dropped
	// without a close frame.
	StatusCode  int
	Description string
}

// ErrorEvent is the Error event's parameters.
type ErrorEvent struct {
	ConnectionID int
	ErrorCode    int
	Description  string
}

// LogEvent is the Log event's parameters.
type LogEvent struct {
	ConnectionID int
	LogLevel     int    // 1 info, 2 verbose, 3 debug
	Message      string // the log entry
	LogType      string // "Info", "Error", "Verbose" or "Debug"
}

// PingEvent is the Ping event's parameters.
type PingEvent struct {
	ConnectionID int
	// PayloadB is the control frame's payload, valid only during the call.
	PayloadB []byte
	// Response is true for a pong, false for a ping.
	Response bool
}

// Payload returns the payload as a string.
func (e *PingEvent) Payload() string { return string(e.PayloadB) }

// ReadyToSendEvent is the ReadyToSend event's parameters.
type ReadyToSendEvent struct {
	ConnectionID int
}

// SSLClientAuthenticationEvent is the SSLClientAuthentication event's parameters.
type SSLClientAuthenticationEvent struct {
	ConnectionID int
	CertEncoded  string // the client's certificate (chain with SSLIncludeCertChain), PEM
	CertSubject  string
	CertIssuer   string
	// Status is "OK" when the certificate verified against the configured
	// CAs, otherwise why it did not.
	Status string
	// Accept starts as Status == "OK"; the handler's value decides.
	Accept bool
}

// CertEncodedB returns CertEncoded as bytes (the reference's CertEncodedB).
func (e *SSLClientAuthenticationEvent) CertEncodedB() []byte { return []byte(e.CertEncoded) }

// SSLConnectionRequestEvent is the SSLConnectionRequest event's parameters.
// Setting the Cert fields selects another certificate for this connection
// only, with the same rules as the SSLCert properties.
type SSLConnectionRequestEvent struct {
	ConnectionID           int
	SupportedCipherSuites  string // comma-separated names from the ClientHello
	SupportedSignatureAlgs string // comma-separated signature schemes from the ClientHello
	CertStoreType          int
	CertStore              string
	CertPassword           string
	CertSubject            string
}

// SSLStatusEvent is the SSLStatus event's parameters.
type SSLStatusEvent struct {
	ConnectionID int
	Message      string
}

// WebSocketOpenRequestEvent is the WebSocketOpenRequest event's parameters.
type WebSocketOpenRequestEvent struct {
	ConnectionID int
	// Connection is the connection asking to open (not yet in Connections):
	// Connection.Request() is the request as an *http.Request, and SetValue
	// keeps what the handler learns from it (a user from a cookie...).
	Connection   *Connection
	RequestURI   string
	HostHeader   string
	OriginHeader string
	// SubProtocols holds the client's subprotocols, comma-separated; set it to
	// the one the server selects (it must be one the client offered), or to ""
	// to select none. Left unchanged with several offered, none is selected.
	SubProtocols   string
	Extensions     string // the client's Sec-WebSocket-Extensions
	RequestHeaders string // every request header, "Name: Value" lines joined by CRLF
	// StatusCode is 101 to accept; set an HTTP error status (e.g. 401) to refuse.
	StatusCode int
	// ResponseHeaders are extra header lines for the response, CRLF-separated.
	ResponseHeaders string
}

// validText reports whether s can be sent as a text message.
func validText(b []byte) bool { return utf8.Valid(b) }
