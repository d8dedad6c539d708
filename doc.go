// Package wsserver is a WebSocket server (RFC 6455, with permessage-deflate of
// RFC 7692). It has two faces over one engine: the shape of the WSServer
// component reference (the same properties, methods, events, config settings
// and error codes, in Go form, with int connection IDs), and a Go-native one
// (whole messages, typed options, per-connection values, *http.Request and
// context access, a test client) for programs written in Go first. Both can
// be mixed freely.
//
// # Overview
//
// A Server accepts connections on its own listener (SetLocalPort, then
// StartListening) or, being an http.Handler, inside a net/http server. Every
// client gets a ConnectionID and a *Connection, and goes through events,
// optional funcs in Server.Events:
//
//	s := wsserver.New()
//	s.Events.OnWebSocketOpenRequest = func(e *wsserver.WebSocketOpenRequestEvent) {
//		if e.RequestURI != "/chat" {
//			e.StatusCode = http.StatusNotFound // refuse; 101 accepts
//		}
//	}
//	s.Events.OnMessage = func(e *wsserver.MessageEvent) {
//		s.SendText(e.ConnectionID, "you said: "+e.Text())
//	}
//	s.SetLocalPort(8080)
//	if err := s.StartListening(); err != nil {
//		log.Fatal(err)
//	}
//
// StartListening returns at once: the server runs on goroutines of its own,
// so main must then wait (for a signal, say) and call Shutdown or
// ShutdownContext. Under net/http, mount the Server on a path instead:
//
//	mux := http.NewServeMux()
//	mux.Handle("/ws", s)
//	http.ListenAndServe("127.0.0.1:8080", mux)
//
// ConnectionRequest decides on a TCP connection before any byte is read
// (AllowedClients and BlockedClients feed it), WebSocketOpenRequest on the
// opening handshake, where Connection.Request gives the request as an
// *http.Request (net/http's own under ServeHTTP). Connected fires once the
// connection is open, Disconnected once it has ended.
//
// # Messages
//
// OnMessage gets each message whole, with its format (FormatText or
// FormatBinary) and data, however the client fragmented it, up to
// MaxMessageSize bytes (64 MiB by default; a larger message closes the
// connection with 1009). Data is valid only during the call: the buffer is
// reused. MessageEvent.Reader reads it with a decoder:
//
//	s.Events.OnMessage = func(e *wsserver.MessageEvent) {
//		var cmd Command
//		if err := json.NewDecoder(e.Reader()).Decode(&cmd); err != nil { ... }
//	}
//
// The reference's DataIn event delivers the same data differently: per piece
// as it arrives (EOM marks a message's last), per whole message with the
// BufferMessage setting, or per line with ChangeLineMode. Both events may be
// set; DataIn then fires first.
//
// Send, SendText and SendMessage send one message; SendJSON encodes a value;
// SendFile and SendStream stream a file or an io.Reader as one message in
// frames; MessageWriter returns an io.WriteCloser whose writes become one
// message; Broadcast sends one message to many connections, framed and
// compressed once.
//
// # Control messages
//
// Pings are answered with pongs automatically; OnPing reports pings and
// pongs (PingEvent.Response). Ping sends one; SendMessage with FormatPing or
// FormatPong sends any control payload up to 125 bytes. Disconnect and
// DisconnectWithCode start the close handshake (DisconnectStatusCode, 1000 by
// default) and return; DisconnectedEvent.StatusCode is the code the
// connection ended with (1005 for a close frame without code, 1006 when it
// dropped without one). Shutdown closes every connection; ShutdownContext
// also waits for the close handshakes.
//
// # Concurrency
//
// Every method of Server and Connection is safe for concurrent use, from any
// goroutine and from inside handlers. A connection's events run one at a
// time, in order: state that only its own events touch needs no lock.
// Different connections' events run concurrently. Where they run:
//
//   - By default, on the connection's own goroutine (a ReadyToSend on the
//     goroutine that drained the queue).
//   - With the EventLoop setting, open plaintext connections are served from
//     one epoll loop per CPU, so an idle connection holds no goroutine and no
//     buffer. Handlers run on the loop and must not block: hand slow work to
//     a goroutine and send its result from there.
//   - With SetEventDispatch(DispatchQueued), every event waits for the
//     application to call DoEvents, as in the reference's event loop.
//
// A handler's panic is caught: OnError reports it (1011) and the connection
// closes with 1011; the server and other connections go on.
//
// # Per-connection state and contexts
//
// Connection.SetValue keeps a value on the connection (a user, a room, a
// session): the events that open or end a connection and MessageEvent carry
// the *Connection, and Server.Value(id) finds it from any other event.
// Connection.Context is cancelled when the connection ends; under net/http
// it carries the values of the request's context (what authentication
// middleware stored there). Connection.Request is the upgrade request during
// WebSocketOpenRequest and Connected only: copy what later events need into
// SetValue. The state exists only once used: an idle connection that uses
// none of it costs nothing more.
//
// # Sending, buffers and limits
//
// Sends do not block by default (a connection's Timeout is 0): the message is
// queued, and when the queue (SendQueueSize, 4 MiB by default, or
// OutBufferSize) cannot take it, the send fails with ErrWouldBlock (10035)
// and OnReadyToSend fires once the queue has drained: keep the data and send
// it then. A slow client thus never holds up the sender. With Timeout > 0 a
// send waits until written, failing with ErrTimedOut (10060) after that
// many seconds without progress; SendContext waits until written or its
// context ends. Interrupt stops a send in progress with ErrInterrupted.
//
// Incoming data is bounded by MaxMessageSize; a request head by 16 KiB; an
// opening handshake by HandshakeTimeout; the number of connections by
// MaxConnections (clients past it get 503). Messages are read straight into
// their buffer and large ones written straight from the caller's; the
// steady state of small messages allocates nothing.
//
// # Origin considerations
//
// Browsers send the page's origin in the Origin header of the opening
// handshake, and any web page can open a WebSocket to any server, with the
// user's cookies and from the user's network: without a check, a hostile
// page could act with its visitors' sessions or reach servers on their
// machine (cross-site WebSocket hijacking). Unlike the reference, which
// accepts every request its application does not refuse, the server checks
// by default. The AllowedOrigins setting holds the policy and applies to
// every transport before WebSocketOpenRequest fires; a refused request gets
// 403 and no event:
//
//   - "same-origin" (the default): a page may connect only to the origin it
//     came from (the Origin's host and port equal the Host header's).
//   - patterns, comma-separated: "https://app.example.com", "*.example.com",
//     "localhost:*"; add "same-origin" to keep the server's own pages.
//   - "*": every origin, as the reference does.
//
// For a server whose page comes from another origin:
//
//	s.Configure(wsserver.WithAllowedOrigins("same-origin, https://app.example.com"))
//
// Requests without an Origin header (programs, not browsers) always pass:
// the check protects browser users, not the server, so authenticate clients
// in WebSocketOpenRequest (OriginHeader and Connection.Request are there for
// finer checks).
//
// # Compression
//
// permessage-deflate (RFC 7692) is accepted when a client offers it
// (EnablePermessageDeflate, default true). By default the server answers
// with server_no_context_takeover, so compressors are pooled and shared and
// Broadcast compresses once for everyone; ServerNoContextTakeover=False keeps
// a compressor per connection (about 0.8 MiB each) for better ratios.
// CompressionLevel and CompressionThreshold (messages smaller than it go out
// uncompressed, 32 bytes by default) tune the rest.
//
// # Configuration
//
// Settings are set either as the reference does, by name and text, or in a
// typed form that the compiler checks:
//
//	s.Config("MaxMessageSize=1048576")
//	s.Configure(wsserver.WithMaxMessageSize(1<<20), wsserver.WithHandshakeTimeout(10*time.Second))
//
// Both come from one table; Configure applies its options atomically, with
// the same checks and error codes as Config. Errors are *Error values with
// the reference's numeric codes: compare with errors.Is(err,
// wsserver.ErrWouldBlock) and the other sentinels.
//
// # TLS
//
// UseSSL makes StartListening serve wss:// with crypto/tls and a certificate
// chosen through the SSLCert properties and SSL settings (see SetUseSSL and
// the README); under net/http, TLS is the http.Server's business.
// Connection.TLS returns the negotiated state.
//
// # Testing
//
// Package wstest is a client for tests: wstest.DialHandler runs a Server (or
// any http.Handler that mounts one) over an in-memory pipe, wstest.Dial
// connects over loopback; both send and receive whole messages and close
// with a code.
//
// The package targets Linux: the listening socket, socket options and event
// loops use its system calls.
package wsserver
