package wsserver

import (
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/wsserver/wsserver/internal/protocol"
)

// Per-client limits of admission (MaxConnectionsPerIP, HandshakeRatePerIP)
// and of messages (MaxMessagesPerSecond). A client is an IPv4 address, or
// the /64 network of an IPv6 address (one host usually holds a whole /64).

// ipState is what admission knows of one client. Guarded by Server.mu.
type ipState struct {
	conns  int       // admitted connections not yet ended
	tokens float64   // handshakes it may start now (HandshakesPerMinutePerIP)
	last   time.Time // when tokens was last brought up to date
}

// clientKey returns the key of host's client: the IPv4 address, or the /64
// of an IPv6 one.
func clientKey(host string) string {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// admitClientLocked applies MaxConnectionsPerIP and HandshakesPerMinutePerIP to a
// new connection from key, counting it when it passes. It returns the
// refusal's status reason and Retry-After seconds, or "" when it passes.
// s.mu is held.
func (s *Server) admitClientLocked(key string, cfg *settings, now time.Time) (reason string, retry int) {
	rate := float64(cfg.handshakesPerMinute) / 60
	if cfg.maxConnsPerIP <= 0 && rate <= 0 && s.ips == nil {
		return "", 0
	}
	if s.ips == nil {
		s.ips = make(map[string]*ipState)
	}
	st := s.ips[key]
	if st == nil {
		s.pruneClientsLocked(rate, now)
		st = &ipState{tokens: rateBurst(rate), last: now}
		s.ips[key] = st
	}
	if cfg.maxConnsPerIP > 0 && st.conns >= cfg.maxConnsPerIP {
		return "too many connections from your address (MaxConnectionsPerIP " + strconv.Itoa(cfg.maxConnsPerIP) + ")", 1
	}
	if r := rate; r > 0 {
		st.tokens = min(rateBurst(r), st.tokens+now.Sub(st.last).Seconds()*r)
		st.last = now
		if st.tokens < 1 {
			return "too many handshakes from your address (HandshakesPerMinutePerIP " + strconv.Itoa(cfg.handshakesPerMinute) + ")", int(math.Ceil((1 - st.tokens) / r))
		}
		st.tokens--
	}
	st.conns++
	return "", 0
}

// rateBurst is the handshakes a client may start at once: one second's
// worth, at least one.
func rateBurst(rate float64) float64 { return max(1, rate) }

// releaseClientLocked forgets an ended connection of key. s.mu is held.
func (s *Server) releaseClientLocked(key string) {
	if st := s.ips[key]; st != nil && st.conns > 0 {
		st.conns--
	}
}

// pruneClientsLocked drops, when the table has grown, the clients with no
// connection whose handshake allowance is full again: they are as new.
// s.mu is held.
func (s *Server) pruneClientsLocked(rate float64, now time.Time) {
	if len(s.ips) < 2*s.active+1024 {
		return
	}
	for k, st := range s.ips {
		full := rate <= 0 || st.tokens+now.Sub(st.last).Seconds()*rate >= rateBurst(rate)
		if st.conns == 0 && full {
			delete(s.ips, k)
		}
	}
}

// countMessage applies MaxMessagesPerSecond to a message (or control frame)
// the client sent: over the rate, the connection is closed with 1008. Only
// the reader calls it.
func (c *Connection) countMessage() error {
	r := c.opts.msgRate
	if r <= 0 {
		return nil
	}
	rs := c.readState
	now := time.Now().UnixNano()
	if rs.rateLast == 0 {
		rs.rateTokens, rs.rateLast = rateBurst(r), now
	}
	rs.rateTokens = min(rateBurst(r), rs.rateTokens+float64(now-rs.rateLast)/1e9*r)
	rs.rateLast = now
	if rs.rateTokens < 1 {
		return &protocol.CloseError{Code: protocol.ClosePolicyViolation, Reason: "more than " + strconv.Itoa(int(r)) + " messages per second (MaxMessagesPerSecond)"}
	}
	rs.rateTokens--
	return nil
}
