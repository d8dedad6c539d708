package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/wsserver/wsserver"
)

// errOverBudget is a message that could not wait in an outbox: the server's
// memory budget (MemoryBudget) had no room for it.
var errOverBudget = errors.New("the server's memory budget has no room for the messages waiting for this client")

// wireMode sets the mode's event handlers on a.srv. Messages come whole
// through OnMessage, with their Connection: no lookup of ours per message.
func (a *app) wireMode() {
	ev := &a.srv.Events
	ev.OnConnected = a.connected
	ev.OnDisconnected = a.disconnected
	switch a.opts.mode {
	case modeEcho:
		ev.OnMessage = a.echo
		ev.OnReadyToSend = a.readyEcho
		ev.OnWebSocketOpenRequest = selectFirst
	case modeBroadcast:
		ev.OnMessage = a.broadcast
		ev.OnReadyToSend = a.readyBroadcast
		ev.OnWebSocketOpenRequest = selectSender
	case modeExec:
		ev.OnMessage = a.execIn
		ev.OnReadyToSend = a.execReady
	}
}

// connected logs a new connection, tells the watchers of /events, and in
// exec mode starts its program. It keeps nothing per connection in the
// other modes: the library's table and Connection hold what the command
// needs (peers.go).
func (a *app) connected(e *wsserver.ConnectedEvent) {
	c := e.Connection
	if a.opts.mode == modeExec {
		a.startSession(a.peerFor(c)) // sets the session before other events can see it
	}
	a.feed.connected(c)
	if a.log.Enabled(context.Background(), slog.LevelInfo) {
		a.log.Info("open", "conn", c.ID(), "remote", remoteOf(c), "uri", c.RequestURI())
	}
}

// disconnected logs a closed connection, tells the watchers, forgets what
// waits in its outbox, and in exec mode ends its program.
func (a *app) disconnected(e *wsserver.DisconnectedEvent) {
	c := e.Connection
	a.feed.disconnected(c.ID(), e.StatusCode)
	if a.log.Enabled(context.Background(), slog.LevelInfo) {
		m := c.Metrics()
		a.log.Info("close", "conn", c.ID(), "remote", remoteOf(c), "code", e.StatusCode, "reason", e.Description,
			"duration", time.Since(c.ConnectedAt()).Round(time.Millisecond), "msgs_in", m.MessagesIn, "msgs_out", m.MessagesOut)
	}
	a.drop(c)
	if p := peerOf(c); p != nil && p.exec != nil {
		p.exec.end()
	}
}

// echo sends each message back to its sender. When the sender's send queue
// is full the message waits in its outbox and reading from the sender pauses
// (PauseData) until ReadyToSend has sent everything that waits: TCP flow
// control then holds the client back, and nothing is lost or reordered.
func (a *app) echo(e *wsserver.MessageEvent) {
	waiting, err := a.send(e.Connection, e.DataFormat, e.Data)
	if err != nil {
		a.sendFailed(e.Connection, err)
		return
	}
	if waiting > 0 {
		e.Connection.PauseData()
	}
}

func (a *app) readyEcho(e *wsserver.ReadyToSendEvent) {
	c, err := a.srv.Connection(e.ConnectionID)
	if err != nil {
		return // gone
	}
	empty, err := a.flush(c)
	if err != nil {
		a.sendFailed(c, err)
		return
	}
	if empty {
		c.ProcessData()
	}
}

// broadcast sends each message to every other connection. The receivers
// that have nothing waiting get it through one BroadcastToFunc call (framed
// once, and no lookup or lock of ours per receiver); a receiver whose send
// queue is full, or that still has messages waiting in its outbox, gets it
// later from the outbox, in order; one that lets more than --max-backlog
// bytes pile up is disconnected with 1008 rather than letting it hold
// unbounded memory or losing messages silently.
func (a *app) broadcast(e *wsserver.MessageEvent) {
	from := e.Connection
	list := a.borrowConns()
	defer a.giveBack(list)
	t, _ := a.targets.Get().(*targets)
	if t == nil {
		t = new(targets)
	}
	defer a.targets.Put(t)
	var env []byte // the message in its envelope, made on first need
	for _, c := range list.conns {
		if c == from {
			continue
		}
		sender := c.SelectedSubProtocol() == senderProtocol
		format, data := e.DataFormat, e.Data
		if sender {
			if env == nil {
				env = envelope(from.ID(), e.DataFormat, e.Data)
			}
			format, data = wsserver.FormatText, env
		}
		if heldOf(c) > 0 {
			// Behind: after what waits for it.
			waiting, err := a.send(c, format, data)
			a.checkSend(c, waiting, err)
			continue
		}
		if sender {
			t.senders = append(t.senders, c)
		} else {
			t.plain = append(t.plain, c)
		}
	}
	if len(t.plain) > 0 {
		a.srv.BroadcastToFunc(e.DataFormat, e.Data, t.plain, a.refusal(e.DataFormat, e.Data))
	}
	if len(t.senders) > 0 {
		a.srv.BroadcastToFunc(wsserver.FormatText, env, t.senders, a.refusal(wsserver.FormatText, env))
	}
	t.reset()
	if a.node != nil {
		// The other processes' clients, at most once, framed once per process.
		if err := a.node.Forward(e.DataFormat, e.Data); err != nil {
			a.log.Warn("cluster: broadcast not forwarded", "conn", from.ID(), "err", err)
		}
	}
}

// targets are the connections one broadcast sends to at once: those that
// get the message as it came and those that get it in its envelope.
type targets struct {
	plain, senders []*wsserver.Connection
}

func (t *targets) reset() {
	clear(t.plain)
	clear(t.senders)
	t.plain, t.senders = t.plain[:0], t.senders[:0]
}

// refusal returns what to do with a receiver a broadcast of data could not
// queue for: with a full queue, keep the message in its outbox.
func (a *app) refusal(format wsserver.DataFormat, data []byte) func(*wsserver.Connection, error) {
	return func(c *wsserver.Connection, err error) {
		if !errors.Is(err, wsserver.ErrWouldBlock) {
			a.sendFailed(c, err)
			return
		}
		waiting, err := a.hold(a.peerFor(c), format, data)
		a.checkSend(c, waiting, err)
	}
}

// checkSend acts on the outcome of a send to a broadcast receiver: a failed
// send, or a backlog past --max-backlog.
func (a *app) checkSend(c *wsserver.Connection, waiting int, err error) {
	if err != nil {
		a.sendFailed(c, err)
		return
	}
	if waiting > a.opts.maxBacklog {
		a.log.Warn("too slow", "conn", c.ID(), "waiting_bytes", waiting, "code", 1008)
		a.drop(c)
		a.srv.DisconnectWithCode(c.ID(), 1008, "too slow: "+strconv.Itoa(waiting)+" bytes waiting")
	}
}

func (a *app) readyBroadcast(e *wsserver.ReadyToSendEvent) {
	c, err := a.srv.Connection(e.ConnectionID)
	if err != nil {
		return // gone
	}
	if _, err := a.flush(c); err != nil {
		a.sendFailed(c, err)
	}
}

// sendFailed handles a send that failed for another reason than a full
// queue: a connection that is closing needs nothing; one that accepted no
// data for Timeout seconds (--timeout) is disconnected with 1008, and any
// other failure with 1011, so that no message is dropped silently.
func (a *app) sendFailed(c *wsserver.Connection, err error) {
	id := c.ID()
	switch {
	case errors.Is(err, wsserver.ErrNotConnected), errors.Is(err, wsserver.ErrInvalidConnectionID):
		return
	case errors.Is(err, errOverBudget):
		a.log.Warn("waiting messages do not fit the memory budget", "conn", id, "code", 1013)
		a.drop(c)
		a.srv.DisconnectWithCode(id, 1013, "server memory budget exhausted: try again later")
	case errors.Is(err, wsserver.ErrTimedOut):
		a.log.Warn("send timed out", "conn", id, "err", err, "code", 1008)
		a.srv.DisconnectWithCode(id, 1008, "too slow: send timed out")
	default:
		a.log.Error("send failed", "conn", id, "err", err, "code", 1011)
		a.srv.DisconnectWithCode(id, 1011, "send failed")
	}
}

// senderProtocol is the subprotocol a broadcast client asks for to learn
// who sent each message: the server then sends it every message as the
// JSON text {"from": ConnectionID, "type": "text" or "binary", "data":
// the text, or the bytes in base64}. Other clients get the messages as
// they came.
const senderProtocol = "wsserver.sender"

// selectSender selects senderProtocol when the client offers it.
func selectSender(e *wsserver.WebSocketOpenRequestEvent) {
	for _, p := range strings.Split(e.SubProtocols, ",") {
		if strings.TrimSpace(p) == senderProtocol {
			e.SubProtocols = senderProtocol
			return
		}
	}
}

// selectFirst selects the first subprotocol a client offers: the echo
// server speaks every protocol back, so that a client that needs one (and
// the page's subprotocol field: a browser fails a connection whose server
// selects none of those it asked for) can be tried against it.
func selectFirst(e *wsserver.WebSocketOpenRequestEvent) {
	first, _, _ := strings.Cut(e.SubProtocols, ",")
	e.SubProtocols = strings.TrimSpace(first)
}

// envelope returns a broadcast message as senderProtocol sends it.
func envelope(from int, format wsserver.DataFormat, data []byte) []byte {
	env := struct {
		From int    `json:"from"`
		Type string `json:"type"`
		Data string `json:"data"`
	}{From: from, Type: "text", Data: string(data)}
	if format == wsserver.FormatBinary {
		env.Type, env.Data = "binary", base64.StdEncoding.EncodeToString(data)
	}
	b, _ := json.Marshal(env) // the type always marshals
	return b
}
