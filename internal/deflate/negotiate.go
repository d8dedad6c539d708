package deflate

import "strconv"

// ExtensionName is the extension token of RFC 7692 section 7.
const ExtensionName = "permessage-deflate"

// Parameter names of RFC 7692 section 7.1.
const (
	paramServerNoContextTakeover = "server_no_context_takeover"
	paramClientNoContextTakeover = "client_no_context_takeover"
	paramServerMaxWindowBits     = "server_max_window_bits"
	paramClientMaxWindowBits     = "client_max_window_bits"
)

// Window size limits, as base-2 logarithms (RFC 7692 section 7.1.2).
const (
	MinWindowBits = 8
	MaxWindowBits = 15
)

// Params are the negotiated permessage-deflate parameters of one connection.
// The zero value is not meaningful; use the result of [Negotiate] or
// [DefaultParams].
type Params struct {
	// ServerNoContextTakeover: the server resets its compression context
	// after every message (RFC 7692 section 7.1.1.1).
	ServerNoContextTakeover bool
	// ClientNoContextTakeover: the client resets its compression context
	// after every message (RFC 7692 section 7.1.1.2), so the server keeps no
	// history between messages it inflates.
	ClientNoContextTakeover bool
	// ServerMaxWindowBits bounds the LZ77 window of the server's compressor,
	// 8..15; 15 when not negotiated (RFC 7692 section 7.1.2.1).
	ServerMaxWindowBits int
	// ClientMaxWindowBits bounds the LZ77 window of the client's compressor,
	// 8..15; 15 when not negotiated (RFC 7692 section 7.1.2.2).
	ClientMaxWindowBits int
}

// DefaultParams returns the parameters in force when an offer carries no
// parameter and the server adds none: context takeover in both directions
// and 32 KiB windows.
func DefaultParams() Params {
	return Params{ServerMaxWindowBits: MaxWindowBits, ClientMaxWindowBits: MaxWindowBits}
}

// Policy is the server's side of the negotiation.
type Policy struct {
	// ServerNoContextTakeover makes the server answer every accepted offer
	// with server_no_context_takeover, whether or not the client asked for
	// it (RFC 7692 section 7.1.1.1 allows this). The compressor then keeps
	// no state between messages, and a connection's compressor costs no
	// memory while idle.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover makes the server answer every accepted offer
	// with client_no_context_takeover (RFC 7692 section 7.1.1.2), so the
	// decompressor keeps no history between messages.
	ClientNoContextTakeover bool
	// ClientMaxWindowBits, when 8..14, is the largest client window the
	// server wants to keep history for. It is used only when the offer has
	// client_max_window_bits, since the response must not carry that
	// parameter otherwise (RFC 7692 section 7.1.2.2). Any other value means
	// no preference.
	ClientMaxWindowBits int
}

// Negotiate picks the first acceptable permessage-deflate offer among exts,
// in order, following RFC 7692 section 7.1; an offer the server cannot accept
// is declined and the next one considered (RFC 7692 section 5.1). Extensions
// other than permessage-deflate are ignored.
//
// An offer is declined when it has an unknown parameter, a parameter twice,
// a value on server_no_context_takeover or client_no_context_takeover, no
// value on server_max_window_bits, or a window-bits value that is not a
// decimal integer from 8 to 15 without leading zeros (RFC 7692 sections
// 7.1.1 and 7.1.2). Declining is never an error.
//
// For an accepted offer, response is the value for the Sec-WebSocket-
// Extensions response header, for example
// "permessage-deflate; server_no_context_takeover", and params are the
// parameters in force for the connection:
//
//   - server_no_context_takeover is answered when offered or required by p.
//   - client_no_context_takeover is answered when offered (making the
//     client's hint binding) or required by p.
//   - server_max_window_bits=N, when offered, is accepted and echoed with the
//     same N (the response must carry it, RFC 7692 section 7.1.2.1). For N
//     below 15 the [Compressor] then uses Huffman-only coding, which has no
//     back-references and is therefore valid for every window size.
//   - client_max_window_bits is answered only when offered (RFC 7692 section
//     7.1.2.2), with the smaller of the offered value (15 when the offer has
//     no value) and p.ClientMaxWindowBits, and only when that is below 15;
//     otherwise the client uses 15.
//
// When no offer is acceptable, Negotiate returns ok false, an empty response
// and the zero Params, and the server answers without the extension.
func Negotiate(exts []Extension, p Policy) (response string, params Params, ok bool) {
	for i := range exts {
		if exts[i].Name != ExtensionName {
			continue
		}
		if resp, params, ok := negotiateOffer(exts[i].Params, p); ok {
			return resp, params, true
		}
	}
	return "", Params{}, false
}

// negotiateOffer accepts or declines one permessage-deflate offer.
func negotiateOffer(offer []Param, p Policy) (string, Params, bool) {
	params := DefaultParams()
	var (
		seenServerNCT, seenClientNCT bool
		seenServerBits, seenClient   bool
		clientOffered                = MaxWindowBits
	)
	for _, q := range offer {
		switch q.Name {
		case paramServerNoContextTakeover:
			if seenServerNCT || q.HasValue {
				return "", Params{}, false
			}
			seenServerNCT = true
			params.ServerNoContextTakeover = true
		case paramClientNoContextTakeover:
			if seenClientNCT || q.HasValue {
				return "", Params{}, false
			}
			seenClientNCT = true
			params.ClientNoContextTakeover = true
		case paramServerMaxWindowBits:
			if seenServerBits || !q.HasValue {
				return "", Params{}, false
			}
			bits, ok := parseWindowBits(q.Value)
			if !ok {
				return "", Params{}, false
			}
			seenServerBits = true
			params.ServerMaxWindowBits = bits
		case paramClientMaxWindowBits:
			if seenClient {
				return "", Params{}, false
			}
			seenClient = true
			if q.HasValue {
				bits, ok := parseWindowBits(q.Value)
				if !ok {
					return "", Params{}, false
				}
				clientOffered = bits
			}
		default:
			return "", Params{}, false
		}
	}

	if p.ServerNoContextTakeover {
		params.ServerNoContextTakeover = true
	}
	if p.ClientNoContextTakeover {
		params.ClientNoContextTakeover = true
	}
	answerClientBits := false
	if seenClient {
		bits := clientOffered
		if p.ClientMaxWindowBits >= MinWindowBits && p.ClientMaxWindowBits < bits {
			bits = p.ClientMaxWindowBits
		}
		if bits < MaxWindowBits {
			answerClientBits = true
			params.ClientMaxWindowBits = bits
		}
	}

	resp := make([]byte, 0, 128)
	resp = append(resp, ExtensionName...)
	if params.ServerNoContextTakeover {
		resp = append(resp, "; "+paramServerNoContextTakeover...)
	}
	if params.ClientNoContextTakeover {
		resp = append(resp, "; "+paramClientNoContextTakeover...)
	}
	if seenServerBits {
		resp = append(resp, "; "+paramServerMaxWindowBits+"="...)
		resp = strconv.AppendInt(resp, int64(params.ServerMaxWindowBits), 10)
	}
	if answerClientBits {
		resp = append(resp, "; "+paramClientMaxWindowBits+"="...)
		resp = strconv.AppendInt(resp, int64(params.ClientMaxWindowBits), 10)
	}
	return string(resp), params, true
}

// parseWindowBits parses a window-bits value: a decimal integer without
// leading zeros from 8 to 15 (RFC 7692 sections 7.1.2.1 and 7.1.2.2).
func parseWindowBits(s string) (int, bool) {
	switch len(s) {
	case 1:
		if s[0] == '8' || s[0] == '9' {
			return int(s[0] - '0'), true
		}
	case 2:
		if s[0] == '1' && '0' <= s[1] && s[1] <= '5' {
			return 10 + int(s[1]-'0'), true
		}
	}
	return 0, false
}

// windowBitsOrMax maps values outside 8..15 (such as the zero value of an
// unset field) to 15.
func windowBitsOrMax(bits int) int {
	if bits < MinWindowBits || bits > MaxWindowBits {
		return MaxWindowBits
	}
	return bits
}
