package cluster

import "fmt"

// Engine carries the cluster's messages between nodes: a publish/subscribe
// client of a broker (NATS, Redis) or the in-memory Hub. A Node names the
// channels; an engine only moves payloads. Channel names are dot-separated
// tokens of ASCII letters, digits, '-' and '_', valid as NATS subjects and
// Redis channels alike.
//
// Delivery is at most once: an engine never retries a message and may lose
// some while its connection to the broker is down. Messages published by one
// engine on one channel arrive in the order they were published.
//
// The Node calls Subscribe once per channel however many of its connections
// are interested (it keeps the reference counts), and Unsubscribe when the
// last one leaves.
type Engine interface {
	// Open connects the engine. deliver is then called with every message
	// that arrives on a subscribed channel; payload is valid only during the
	// call. Calls for one channel come one at a time, in order. report is
	// called when the engine's connection to the broker changes or the
	// engine loses messages. Neither may be called after Close returns.
	Open(deliver func(channel string, payload []byte), report func(Report)) error
	// Publish sends payload to every engine subscribed to channel, itself
	// included where the broker echoes. It does not keep payload after it
	// returns, and it does not wait for a round trip to the broker.
	Publish(channel string, payload []byte) error
	// Subscribe makes the engine receive channel's messages.
	Subscribe(channel string) error
	// Unsubscribe stops them.
	Unsubscribe(channel string) error
	// Close disconnects the engine and releases what it holds.
	Close() error
}

// ReportKind says what a Report is about.
type ReportKind int

const (
	// Disconnected: the connection to the broker was lost. Publishes fail or
	// wait in the client's buffer, and remote messages are lost until
	// Reconnected.
	Disconnected ReportKind = iota + 1
	// Reconnected: the connection is back and every subscription was made
	// again.
	Reconnected
	// Dropped: the engine dropped Lost incoming messages (a slow consumer)
	// or Lost outgoing ones (its send buffer was full).
	Dropped
	// Failed: any other error of the engine (Err).
	Failed
)

// String returns the kind's name.
func (k ReportKind) String() string {
	switch k {
	case Disconnected:
		return "disconnected"
	case Reconnected:
		return "reconnected"
	case Dropped:
		return "dropped"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("ReportKind(%d)", int(k))
}

// Report is an engine's news about its connection to the broker.
type Report struct {
	Kind ReportKind
	Lost int64 // messages dropped (Dropped)
	Err  error // the cause, when known
}
