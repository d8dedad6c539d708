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
// # Architecture
//
// Three layers, each in files of its own:
//
//   - The public API: server.go (Server, its properties and lifecycle),
//     connection.go and connext.go (Connection's properties), send.go
//     (Send*), sendfile.go, ping.go, broadcast.go, events.go and
//     dispatch.go (the events and where they run), config.go and
//     settings.go (the Config table), errors.go, tls*.go (UseSSL and the
//     SSL settings), http.go (ServeHTTP, ConfigureHTTPServer, the
//     HTTPListener hand-off).
//   - The connection layer, the same for every transport: accept.go (the
//     listening socket, the accept loop, admission, the TLS step, the
//     policy given to the transport), lifecycle.go (the byte handler,
//     open, the end of a connection), stage_handshake.go (the opening
//     handshake), stage_read.go (the frame stage: messages to the
//     events), sendqueue.go and flush.go (the send queue and its flush
//     policy), close.go (the close handshake), liveness.go and budget.go
//     (heartbeats, slow clients, the memory budget).
//   - The transports, in internal/transport, which imports nothing of this
//     package: byte pumps behind one interface. A transport.Conn is one
//     socket (a net.Conn: TCP, TLS, a net/http hijack; or on Linux a raw
//     descriptor); a transport.Handler consumes its bytes. Only that
//     package touches descriptors and system calls.
//
// What runs where. The accept loop (one goroutine per listener, accept.go)
// takes connections from StartListening's listener; ServeHTTP's come in on
// net/http's goroutine. Each connection gets its byte handler, connHandler
// (lifecycle.go), whose stages are the opening handshake (handshakeBytes:
// buffer, handshake.ParseLimit, upgrade, the 101 written, Connected) and
// then the frames (frameBytes: protocol.Reader, the events). Who feeds it is
// the server's transport.Engine's decision, and only the Engine's: the
// server gives it a transport.Policy (policy: EventLoop, EventLoopSpin,
// and whether anything before the opening can block: a TLS handshake, a
// ConnectionRequest handler or host-name filter, events queued for
// DoEvents), and Engine.Accept, Engine.Start and Engine.Serve choose
// within it (internal/transport/transport.go says how and why):
//
//   - a reader goroutine: without EventLoop, for TLS (a fresh one once the
//     connection is open, after the handshake grew the first one's stack),
//     and for a start that may block; under net/http it is net/http's; or
//   - with EventLoop, an epoll loop of the Engine (one loop per CPU,
//     started with the first connection and stopped a second after the
//     last), which serves many connections and must never block: from the
//     first byte (a raw socket, admitted on the accept loop's goroutine)
//     when nothing before the opening can block, else from the moment the
//     handshake stage has opened the connection (Handler.Opened).
//
// The connection layer only admits (admission), does the TLS handshake
// (prepare) and opens and ends connections; it makes no choice of
// transport. When the reading ends (the client's close frame, a protocol
// error, the socket's end, a refused handshake), the transport calls
// Handler.Ended on a goroutine (never on a loop), and connHandler.Ended is
// the one end of every connection: it completes the close and finish fires
// Disconnected and closes the socket (abandon, for one that never opened).
//
// Writes go through the connection's send queue (sendQueue, sendqueue.go),
// every sender's alike (only the 101 response goes straight to the socket,
// sendHandshake, so that an idle connection has no queue; what the socket
// does not take at once is queued): a send frames its message into the
// queue (or, for a large message to an idle socket, writes it straight
// from the caller's buffer with one writev), and one writer at a time,
// whoever claims the queue's writerState from writerIdle (flush.go),
// writes it: the reader after its batch (so that the replies to a batch of
// frames go out in one write), a blocking send itself, or a flusher
// goroutine. On a
// loop the reader writes once without blocking and leaves the rest to a
// flusher goroutine. A raw socket that must wait to write (or to read off
// its loop) does so through its twin, a net.Conn on a duplicate descriptor
// made on first need.
//
// # Locking
//
// The locks, and what each guards:
//
//   - Connection.evmu: held while one of the connection's handlers runs, so
//     that its events run one at a time, in order (dispatch.go).
//   - Connection.mu: the connection's mutable state, grouped in
//     connection.go under "mu guards the fields below" (settings, state,
//     the reader's batch mark, the sendState with the queue and the close
//     codes, the liveState link); the reader's own state (readState, the
//     handshake stage's handshakeState) is unguarded, the reader's alone.
//   - Server.mu: the server's state (settings, Connections, counts, client
//     limits, the listener, the options and local address connections
//     share), grouped in server.go.
//   - serverStats.mu: the counters of ended connections (metrics.go).
//   - wheel.mu: the liveness wheel (liveness.go).
//   - memBudget.mu: the connections holding more than their share of the
//     memory budget (budget.go, budgetsweep.go).
//   - eventQueue.mu: DoEvents' queue (dispatch.go).
//   - In internal/transport: a Conn's own lock (its reading switch and,
//     for a raw socket, its closed and failed flags and the making of its
//     twin), Engine.mu (the starting and stopping of loops), the fd
//     table's chunk lock.
//   - Leaves of their own: certCache.mu, the revocation caches' mu.
//
// Lock order, as chains: a lock may be taken while holding the ones to its
// left, never the other way round.
//
//	Connection.evmu -> Server.mu
//	Connection.evmu -> Connection.mu -> wheel.mu
//	Connection.evmu -> Connection.mu -> memBudget.mu
//	Connection.evmu -> Connection.mu -> transport Conn lock (-> epoll_ctl)
//	transport Conn lock -> fd table lock (a socket put on a loop)
//	serverStats.mu -> Server.mu
//	serverStats.mu -> Connection.mu
//	Engine.mu, fd table lock, eventQueue.mu: leaves (nothing is taken under them)
//
// Rules that keep it so:
//
//   - No handler runs under Connection.mu, Server.mu or a transport lock:
//     only evmu is held while a handler runs (call, protect).
//   - No transport method calls into the connection layer under its lock:
//     a failure it must report (Handler.Failed: a raw socket's twin could
//     not be made) is reported after the lock is released, and so may close
//     the connection.
//   - A transport Conn's methods may be called with Connection.mu held
//     (setReadingLocked, writeThroughLocked's TryWritev, Interrupt); they
//     never block on the client there. A blocking write (flushLoop,
//     WriteTimed, the 101's in sendHandshake) runs with no lock held.
//
// The Locked suffix means one thing: the caller holds Connection.mu (or the
// lock its comment names) and it is still held when the function returns.
// A function that releases it says so in its name or its comment instead:
// wouldBlockUnlock and finishSendUnlock (released), awaitProgress,
// awaitRoom, claimStream and writeOrAwait (released while they wait; held
// again on success, released on an error).
//
// # Platforms
//
// The event loops, raw sockets and the listening socket's options (backlog,
// SO_REUSEPORT) use Linux's system calls; they are in internal/transport,
// behind build tags. Elsewhere every connection is read by a goroutine,
// EventLoop=True fails with 302 and the listener is net's.
package wsserver
