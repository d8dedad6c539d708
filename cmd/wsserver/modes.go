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

// wireMode sets the mode's event handlers on a.srv.
func (a *app) wireMode() {
	ev := &a.srv.Events
	ev.OnConnected = a.connected
	ev.OnDisconnected = a.disconnected
	switch a.opts.mode {
	case modeEcho:
		ev.OnDataIn = a.echo
		ev.OnReadyToSend = a.readyEcho
	case modeBroadcast:
		ev.OnDataIn = a.broadcast
		ev.OnReadyToSend = a.readyBroadcast
		ev.OnWebSocketOpenRequest = selectSender
	case modeExec:
		ev.OnDataIn = a.execIn
		ev.OnReadyToSend = a.execReady
	}
}

// connected registers a new connection, and in exec mode starts its program.
func (a *app) connected(e *wsserver.ConnectedEvent) {
	c, err := a.srv.Connection(e.ConnectionID)
	if err != nil {
		return // already gone
	}
	p := &peer{id: e.ConnectionID, conn: c, since: time.Now().UnixNano()}
	p.sender = c.SelectedSubProtocol() == senderProtocol
	if a.opts.mode == modeExec {
		a.startSession(p) // sets p.exec before other events can see p
	}
	a.peers.add(p)
	a.feed.connected(p)
	if a.log.Enabled(context.Background(), slog.LevelInfo) {
		a.log.Info("open", "conn", p.id, "remote", p.remote(), "uri", p.uri())
	}
}

// disconnected forgets a connection, and in exec mode ends its program.
func (a *app) disconnected(e *wsserver.DisconnectedEvent) {
	p := a.peers.remove(e.ConnectionID)
	if p == nil {
		return
	}
	a.feed.disconnected(p.id, e.StatusCode)
	if a.log.Enabled(context.Background(), slog.LevelInfo) {
		a.log.Info("close", "conn", p.id, "remote", p.remote(), "code", e.StatusCode, "reason", e.Description,
			"duration", time.Since(p.started()).Round(time.Millisecond), "msgs_in", p.msgsIn.Load(), "msgs_out", p.msgsOut.Load())
	}
	p.drop()
	if p.exec != nil {
		p.exec.end()
	}
}

// echo sends each message back to its sender. When the sender's send queue
// is full the message waits in its outbox and reading from the sender pauses
// (PauseData) until ReadyToSend has sent everything that waits: TCP flow
// control then holds the client back, and nothing is lost or reordered.
func (a *app) echo(e *wsserver.DataInEvent) {
	p := a.peers.get(e.ConnectionID)
	if p == nil {
		return
	}
	p.received(len(e.TextB))
	waiting, err := p.send(a.srv, e.DataFormat, e.TextB)
	if err != nil {
		a.sendFailed(p, err)
		return
	}
	if waiting > 0 {
		p.conn.PauseData()
	}
}

func (a *app) readyEcho(e *wsserver.ReadyToSendEvent) {
	p := a.peers.get(e.ConnectionID)
	if p == nil {
		return
	}
	empty, err := p.flush(a.srv)
	if err != nil {
		a.sendFailed(p, err)
		return
	}
	if empty {
		p.conn.ProcessData()
	}
}

// broadcast sends each message to every other connection. The receivers
// that have nothing waiting get it through one BroadcastToFunc call (framed
// once, and no lookup or lock of ours per receiver); a receiver whose send
// queue is full, or that still has messages waiting in its outbox, gets it
// later from the outbox, in order; one that lets more than --max-backlog
// bytes pile up is disconnected with 1008 rather than letting it hold
// unbounded memory or losing messages silently.
func (a *app) broadcast(e *wsserver.DataInEvent) {
	from := a.peers.get(e.ConnectionID)
	if from == nil {
		return
	}
	from.received(len(e.TextB))
	list := a.peers.borrow()
	defer a.peers.giveBack(list)
	t, _ := a.targets.Get().(*targets)
	if t == nil {
		t = new(targets)
	}
	defer a.targets.Put(t)
	var env []byte // the message in its envelope, made on first need
	for _, p := range *list {
		if p.id == from.id {
			continue
		}
		format, data := e.DataFormat, e.TextB
		if p.sender {
			if env == nil {
				env = envelope(from.id, e.DataFormat, e.TextB)
			}
			format, data = wsserver.FormatText, env
		}
		if p.held() > 0 {
			// Behind: after what waits for it.
			waiting, err := p.send(a.srv, format, data)
			a.checkSend(p, waiting, err)
			continue
		}
		p.sent(len(data)) // a refusal takes it back
		if p.sender {
			t.senders = append(t.senders, p.conn)
		} else {
			t.plain = append(t.plain, p.conn)
		}
	}
	if len(t.plain) > 0 {
		a.srv.BroadcastToFunc(e.DataFormat, e.TextB, t.plain, a.refusal(e.DataFormat, e.TextB))
	}
	if len(t.senders) > 0 {
		a.srv.BroadcastToFunc(wsserver.FormatText, env, t.senders, a.refusal(wsserver.FormatText, env))
	}
	t.reset()
	if a.node != nil {
		// The other processes' clients, at most once, framed once per process.
		if err := a.node.Forward(e.DataFormat, e.TextB); err != nil {
			a.log.Warn("cluster: broadcast not forwarded", "conn", e.ConnectionID, "err", err)
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
		p := a.peers.get(c.ID())
		if p == nil {
			return // gone
		}
		p.unsent(len(data))
		if !errors.Is(err, wsserver.ErrWouldBlock) {
			a.sendFailed(p, err)
			return
		}
		waiting, err := p.hold(a.srv, format, data)
		a.checkSend(p, waiting, err)
	}
}

// checkSend acts on the outcome of a send to a broadcast receiver: a failed
// send, or a backlog past --max-backlog.
func (a *app) checkSend(p *peer, waiting int, err error) {
	if err != nil {
		a.sendFailed(p, err)
		return
	}
	if waiting > a.opts.maxBacklog {
		a.log.Warn("too slow", "conn", p.id, "waiting_bytes", waiting, "code", 1008)
		p.drop()
		a.srv.DisconnectWithCode(p.id, 1008, "too slow: "+strconv.Itoa(waiting)+" bytes waiting")
	}
}

func (a *app) readyBroadcast(e *wsserver.ReadyToSendEvent) {
	if p := a.peers.get(e.ConnectionID); p != nil {
		if _, err := p.flush(a.srv); err != nil {
			a.sendFailed(p, err)
		}
	}
}

// sendFailed handles a send that failed for another reason than a full
// queue: a connection that is closing needs nothing; one that accepted no
// data for Timeout seconds (--timeout) is disconnected with 1008, and any
// other failure with 1011, so that no message is dropped silently.
func (a *app) sendFailed(p *peer, err error) {
	switch {
	case errors.Is(err, wsserver.ErrNotConnected), errors.Is(err, wsserver.ErrInvalidConnectionID):
		return
	case errors.Is(err, errOverBudget):
		a.log.Warn("waiting messages do not fit the memory budget", "conn", p.id, "code", 1013)
		p.drop()
		a.srv.DisconnectWithCode(p.id, 1013, "server memory budget exhausted: try again later")
	case errors.Is(err, wsserver.ErrTimedOut):
		a.log.Warn("send timed out", "conn", p.id, "err", err, "code", 1008)
		a.srv.DisconnectWithCode(p.id, 1008, "too slow: send timed out")
	default:
		a.log.Error("send failed", "conn", p.id, "err", err, "code", 1011)
		a.srv.DisconnectWithCode(p.id, 1011, "send failed")
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
