package deflate

import (
	"testing"
)

// negotiateHeader parses header values and negotiates them under p.
func negotiateHeader(t *testing.T, p Policy, values ...string) (string, Params, bool) {
	t.Helper()
	exts, err := ParseExtensions(values)
	if err != nil {
		t.Fatalf("ParseExtensions(%q): %v", values, err)
	}
	return Negotiate(exts, p)
}

type negotiateCase struct {
	name   string
	policy Policy
	offer  []string
	ok     bool
	resp   string
	params Params
}

func runNegotiateCases(t *testing.T, tests []negotiateCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, params, ok := negotiateHeader(t, tt.policy, tt.offer...)
			if ok != tt.ok || resp != tt.resp || params != tt.params {
				t.Fatalf("Negotiate(%q, %+v) = %q, %+v, %v; want %q, %+v, %v",
					tt.offer, tt.policy, resp, params, ok, tt.resp, tt.params, tt.ok)
			}
			if !ok {
				return
			}
			// The response is itself a well-formed single-extension value.
			exts, err := ParseExtensions([]string{resp})
			if err != nil || len(exts) != 1 || exts[0].Name != ExtensionName {
				t.Fatalf("response %q does not parse back: %v, %v", resp, exts, err)
			}
		})
	}
}

// params builds Params from the default with changes applied.
func params(change func(*Params)) Params {
	p := DefaultParams()
	if change != nil {
		change(&p)
	}
	return p
}

func TestNegotiate_RFC7692_7_1_NoParameters(t *testing.T) {
	runNegotiateCases(t, []negotiateCase{
		{name: "bare offer", offer: []string{"permessage-deflate"}, ok: true,
			resp: "permessage-deflate", params: params(nil)},
		{name: "no offer", offer: []string{"x-webkit-deflate-frame"}},
		{name: "no header", offer: nil},
		{name: "name is case-sensitive", offer: []string{"Permessage-Deflate"}},
	})
}

func TestNegotiate_RFC7692_7_1_1_1_ServerNoContextTakeover(t *testing.T) {
	want := params(func(p *Params) { p.ServerNoContextTakeover = true })
	runNegotiateCases(t, []negotiateCase{
		{name: "offered is answered", offer: []string{"permessage-deflate; server_no_context_takeover"}, ok: true,
			resp: "permessage-deflate; server_no_context_takeover", params: want},
		{name: "imposed by policy without offer", policy: Policy{ServerNoContextTakeover: true},
			offer: []string{"permessage-deflate; client_max_window_bits"}, ok: true,
			resp: "permessage-deflate; server_no_context_takeover", params: want},
		{name: "offered and imposed", policy: Policy{ServerNoContextTakeover: true},
			offer: []string{"permessage-deflate; server_no_context_takeover"}, ok: true,
			resp: "permessage-deflate; server_no_context_takeover", params: want},
		{name: "value declines", offer: []string{"permessage-deflate; server_no_context_takeover=1"}},
		{name: "quoted value declines", offer: []string{`permessage-deflate; server_no_context_takeover="true"`}},
		{name: "twice declines", offer: []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}},
	})
}

func TestNegotiate_RFC7692_7_1_1_2_ClientNoContextTakeover(t *testing.T) {
	want := params(func(p *Params) { p.ClientNoContextTakeover = true })
	runNegotiateCases(t, []negotiateCase{
		{name: "offered hint is answered", offer: []string{"permessage-deflate; client_no_context_takeover"}, ok: true,
			resp: "permessage-deflate; client_no_context_takeover", params: want},
		{name: "imposed by policy", policy: Policy{ClientNoContextTakeover: true},
			offer: []string{"permessage-deflate"}, ok: true,
			resp: "permessage-deflate; client_no_context_takeover", params: want},
		{name: "value declines", offer: []string{"permessage-deflate; client_no_context_takeover=yes"}},
		{name: "twice declines", offer: []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}},
	})
}

func TestNegotiate_RFC7692_7_1_2_1_ServerMaxWindowBits(t *testing.T) {
	bits := func(n int) Params { return params(func(p *Params) { p.ServerMaxWindowBits = n }) }
	runNegotiateCases(t, []negotiateCase{
		{name: "10 is echoed", offer: []string{"permessage-deflate; server_max_window_bits=10"}, ok: true,
			resp: "permessage-deflate; server_max_window_bits=10", params: bits(10)},
		{name: "8 is echoed", offer: []string{"permessage-deflate; server_max_window_bits=8"}, ok: true,
			resp: "permessage-deflate; server_max_window_bits=8", params: bits(8)},
		{name: "15 is echoed", offer: []string{"permessage-deflate; server_max_window_bits=15"}, ok: true,
			resp: "permessage-deflate; server_max_window_bits=15", params: bits(15)},
		{name: "quoted value", offer: []string{`permessage-deflate; server_max_window_bits="9"`}, ok: true,
			resp: "permessage-deflate; server_max_window_bits=9", params: bits(9)},
		{name: "no value declines", offer: []string{"permessage-deflate; server_max_window_bits"}},
		{name: "7 declines", offer: []string{"permessage-deflate; server_max_window_bits=7"}},
		{name: "16 declines", offer: []string{"permessage-deflate; server_max_window_bits=16"}},
		{name: "0 declines", offer: []string{"permessage-deflate; server_max_window_bits=0"}},
		{name: "leading zero declines", offer: []string{"permessage-deflate; server_max_window_bits=09"}},
		{name: "sign declines", offer: []string{"permessage-deflate; server_max_window_bits=+9"}},
		{name: "not a number declines", offer: []string{"permessage-deflate; server_max_window_bits=ten"}},
		{name: "huge number declines", offer: []string{"permessage-deflate; server_max_window_bits=100000000000000000010"}},
		{name: "twice declines", offer: []string{"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"}},
	})
}

func TestNegotiate_RFC7692_7_1_2_2_ClientMaxWindowBits(t *testing.T) {
	bits := func(n int) Params { return params(func(p *Params) { p.ClientMaxWindowBits = n }) }
	runNegotiateCases(t, []negotiateCase{
		{name: "offered without value is not answered", offer: []string{"permessage-deflate; client_max_window_bits"}, ok: true,
			resp: "permessage-deflate", params: bits(15)},
		{name: "offered value is echoed", offer: []string{"permessage-deflate; client_max_window_bits=10"}, ok: true,
			resp: "permessage-deflate; client_max_window_bits=10", params: bits(10)},
		{name: "offered 15 needs no answer", offer: []string{"permessage-deflate; client_max_window_bits=15"}, ok: true,
			resp: "permessage-deflate", params: bits(15)},
		{name: "policy answers offer without value", policy: Policy{ClientMaxWindowBits: 9},
			offer: []string{"permessage-deflate; client_max_window_bits"}, ok: true,
			resp: "permessage-deflate; client_max_window_bits=9", params: bits(9)},
		{name: "smaller offered value wins over policy", policy: Policy{ClientMaxWindowBits: 12},
			offer: []string{"permessage-deflate; client_max_window_bits=10"}, ok: true,
			resp: "permessage-deflate; client_max_window_bits=10", params: bits(10)},
		{name: "smaller policy wins over offered value", policy: Policy{ClientMaxWindowBits: 8},
			offer: []string{"permessage-deflate; client_max_window_bits=10"}, ok: true,
			resp: "permessage-deflate; client_max_window_bits=8", params: bits(8)},
		{name: "MUST NOT answer when not offered", policy: Policy{ClientMaxWindowBits: 9},
			offer: []string{"permessage-deflate"}, ok: true,
			resp: "permessage-deflate", params: bits(15)},
		{name: "invalid policy value is ignored", policy: Policy{ClientMaxWindowBits: 3},
			offer: []string{"permessage-deflate; client_max_window_bits"}, ok: true,
			resp: "permessage-deflate", params: bits(15)},
		{name: "7 declines", offer: []string{"permessage-deflate; client_max_window_bits=7"}},
		{name: "16 declines", offer: []string{"permessage-deflate; client_max_window_bits=16"}},
		{name: "leading zero declines", offer: []string{"permessage-deflate; client_max_window_bits=010"}},
		{name: "twice declines", offer: []string{"permessage-deflate; client_max_window_bits; client_max_window_bits=10"}},
	})
}

func TestNegotiate_RFC7692_7_1_AllParameters(t *testing.T) {
	runNegotiateCases(t, []negotiateCase{
		{name: "all four", offer: []string{"permessage-deflate; client_max_window_bits=12; server_max_window_bits=10; client_no_context_takeover; server_no_context_takeover"},
			ok:   true,
			resp: "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
			params: Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true,
				ServerMaxWindowBits: 10, ClientMaxWindowBits: 12}},
	})
}

func TestNegotiate_RFC7692_7_1_DeclinesInvalidOffers(t *testing.T) {
	runNegotiateCases(t, []negotiateCase{
		{name: "unknown parameter", offer: []string{"permessage-deflate; x_max_window_bits=10"}},
		{name: "unknown bare parameter", offer: []string{"permessage-deflate; foo"}},
		{name: "parameter name is case-sensitive", offer: []string{"permessage-deflate; Server_No_Context_Takeover"}},
		{name: "duplicate across kinds still declines", offer: []string{"permessage-deflate; client_max_window_bits=9; client_max_window_bits=9"}},
	})
}

func TestNegotiate_RFC7692_5_1_FallsBackToNextOffer(t *testing.T) {
	runNegotiateCases(t, []negotiateCase{
		{name: "first offer invalid, second accepted",
			offer: []string{"permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits"},
			ok:    true, resp: "permessage-deflate", params: params(nil)},
		{name: "offers across header fields",
			offer: []string{"permessage-deflate; foo", "permessage-deflate; server_max_window_bits=16", "permessage-deflate; server_no_context_takeover"},
			ok:    true, resp: "permessage-deflate; server_no_context_takeover",
			params: params(func(p *Params) { p.ServerNoContextTakeover = true })},
		{name: "first acceptable offer wins",
			offer: []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate"},
			ok:    true, resp: "permessage-deflate; server_max_window_bits=10",
			params: params(func(p *Params) { p.ServerMaxWindowBits = 10 })},
		{name: "other extensions are skipped",
			offer: []string{"x-foo; bar=1, permessage-deflate; client_no_context_takeover, x-baz"},
			ok:    true, resp: "permessage-deflate; client_no_context_takeover",
			params: params(func(p *Params) { p.ClientNoContextTakeover = true })},
		{name: "no acceptable offer",
			offer: []string{"permessage-deflate; foo, permessage-deflate; server_max_window_bits"}},
	})
}
