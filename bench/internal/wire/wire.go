// Package wire holds the load generator's WebSocket client-side pieces: the
// handshake request and its check, pre-masked (and optionally pre-compressed)
// frames, deterministic payloads, and the permessage-deflate helpers used to
// verify compressed echoes.
package wire

import (
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// Opcodes used by the generator.
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// ClientKey is the Sec-WebSocket-Key every generator connection sends. One
// fixed key is fine for a load generator; the server only echoes its digest.
const ClientKey = "d3NzZXJ2ZXItYmVuY2gtMQ=="

// AcceptFor returns the Sec-WebSocket-Accept value a server must answer for key.
func AcceptFor(key string) string {
	h := sha1.New()
	io.WriteString(h, key)
	io.WriteString(h, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// DeflateOffer asks for permessage-deflate without context takeover in either
// direction, so that one precompressed frame stays valid for every send and
// every echo can be inflated on its own.
const DeflateOffer = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"

// HandshakeRequest returns the upgrade request for host ("ip:port").
func HandshakeRequest(host string, deflate bool) []byte {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\nHost: ")
	b.WriteString(host)
	b.WriteString("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ")
	b.WriteString(ClientKey)
	b.WriteString("\r\nSec-WebSocket-Version: 13\r\n")
	if deflate {
		b.WriteString("Sec-WebSocket-Extensions: ")
		b.WriteString(DeflateOffer)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// ErrIncomplete means the response head has not fully arrived yet.
var ErrIncomplete = errors.New("incomplete handshake response")

// CheckResponse validates a server's upgrade response held at the start of
// buf. It returns the number of bytes the response head took (the rest of buf
// already belongs to the WebSocket stream). With deflate it demands that the
// server accepted permessage-deflate with server_no_context_takeover.
func CheckResponse(buf []byte, deflate bool) (int, error) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		if len(buf) > 8192 {
			return 0, errors.New("handshake response head too long")
		}
		return 0, ErrIncomplete
	}
	head := string(buf[:end])
	lines := strings.Split(head, "\r\n")
	if !strings.HasPrefix(lines[0], "HTTP/1.1 101") {
		return 0, fmt.Errorf("handshake refused: %q", lines[0])
	}
	var accept, ext string
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "sec-websocket-accept":
			accept = v
		case "sec-websocket-extensions":
			if ext != "" {
				ext += ", "
			}
			ext += v
		}
	}
	if accept != AcceptFor(ClientKey) {
		return 0, fmt.Errorf("bad Sec-WebSocket-Accept %q", accept)
	}
	if deflate {
		if !strings.Contains(ext, "permessage-deflate") {
			return 0, fmt.Errorf("server did not accept permessage-deflate (extensions %q)", ext)
		}
		if !strings.Contains(ext, "server_no_context_takeover") {
			return 0, fmt.Errorf("server kept its context takeover (extensions %q)", ext)
		}
	} else if ext != "" {
		return 0, fmt.Errorf("unexpected extensions %q", ext)
	}
	return end + 4, nil
}

// Mask is the fixed masking key of every generator frame.
var Mask = [4]byte{0x5a, 0x3c, 0xa5, 0xc3}

// ClientFrame builds one masked, final frame carrying payload. rsv1 marks a
// compressed (permessage-deflate) payload.
func ClientFrame(op byte, rsv1 bool, payload []byte) []byte {
	b0 := 0x80 | op
	if rsv1 {
		b0 |= 0x40
	}
	n := len(payload)
	f := make([]byte, 0, n+14)
	f = append(f, b0)
	switch {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	f = append(f, Mask[:]...)
	for i, c := range payload {
		f = append(f, c^Mask[i&3])
	}
	return f
}

// BinaryPayload returns n deterministic pseudo-random bytes.
func BinaryPayload(n int) []byte {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

var words = strings.Fields(`the server client message frame socket buffer
	latency throughput connection handshake payload deflate window context
	stream event queue worker thread signal timeout deadline request response
	header status upgrade protocol extension compress inflate network loopback
	kernel memory page cache record field value name price order account user
	session token route channel topic market quote trade volume open close high
	low bid ask symbol time date id type data list map set key count total`)

// TextPayload returns n bytes of deterministic, compressible ASCII text that
// looks like a stream of small JSON records.
func TextPayload(n int) []byte {
	r := rand.New(rand.NewPCG(2, uint64(n)))
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, `{"%s":"%s","%s":%d,"%s":"%s %s"}`+"\n",
			words[r.IntN(len(words))], words[r.IntN(len(words))],
			words[r.IntN(len(words))], r.IntN(100000),
			words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

// deflateTail ends every permessage-deflate message; senders strip it.
var deflateTail = []byte{0, 0, 0xff, 0xff}

// Compress deflates p as one permessage-deflate message (no context).
func Compress(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(p)
	w.Flush()
	z := b.Bytes()
	if !bytes.HasSuffix(z, deflateTail) {
		panic("flate output without sync tail")
	}
	return z[:len(z)-4]
}

// Inflater inflates whole permessage-deflate messages, reusing its state.
type Inflater struct {
	src bytes.Reader
	tl  bytes.Reader
	mr  io.Reader
	fr  io.ReadCloser
	out []byte
}

// Matches reports whether the compressed message z inflates to exactly want.
func (f *Inflater) Matches(z, want []byte) bool {
	f.src.Reset(z)
	f.tl.Reset(deflateTail)
	if f.mr == nil {
		f.mr = io.MultiReader(&f.src, &f.tl)
		f.fr = flate.NewReader(f.mr)
	} else {
		f.mr = io.MultiReader(&f.src, &f.tl)
		f.fr.(flate.Resetter).Reset(f.mr, nil)
	}
	if cap(f.out) < len(want)+1 {
		f.out = make([]byte, len(want)+1)
	}
	out := f.out[:len(want)+1]
	n, _ := io.ReadFull(f.fr, out)
	return n == len(want) && bytes.Equal(out[:n], want)
}
