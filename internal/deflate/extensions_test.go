package deflate

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseExtensions_RFC6455_9_1_Valid(t *testing.T) {
	pmd := func(params ...Param) Extension { return Extension{Name: ExtensionName, Params: params} }
	bare := func(name string) Param { return Param{Name: name} }
	val := func(name, value string) Param { return Param{Name: name, Value: value, HasValue: true} }
	tests := []struct {
		name   string
		values []string
		want   []Extension
	}{
		{"no header", nil, nil},
		{"bare extension", []string{"permessage-deflate"}, []Extension{pmd()}},
		{"browser offer", []string{"permessage-deflate; client_max_window_bits"},
			[]Extension{pmd(bare("client_max_window_bits"))}},
		{"all four parameters", []string{"permessage-deflate;server_no_context_takeover;client_no_context_takeover;server_max_window_bits=10;client_max_window_bits=12"},
			[]Extension{pmd(bare("server_no_context_takeover"), bare("client_no_context_takeover"), val("server_max_window_bits", "10"), val("client_max_window_bits", "12"))}},
		{"optional whitespace everywhere", []string{" \tpermessage-deflate \t; \t client_max_window_bits \t = \t 10 \t, \tx-foo \t"},
			[]Extension{pmd(val("client_max_window_bits", "10")), {Name: "x-foo"}}},
		{"quoted value", []string{`permessage-deflate; client_max_window_bits="10"`},
			[]Extension{pmd(val("client_max_window_bits", "10"))}},
		{"quoted value with quoted-pair", []string{`x; a="b\a\z"`},
			[]Extension{{Name: "x", Params: []Param{val("a", "baz")}}}},
		{"empty list elements", []string{", ,permessage-deflate,, \t, x ,"},
			[]Extension{pmd(), {Name: "x"}}},
		{"several offers in one value", []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate"},
			[]Extension{pmd(val("server_max_window_bits", "10")), pmd()}},
		{"several header fields", []string{"permessage-deflate; client_max_window_bits", "x-webkit-deflate-frame", "permessage-deflate"},
			[]Extension{pmd(bare("client_max_window_bits")), {Name: "x-webkit-deflate-frame"}, pmd()}},
		{"empty field among others", []string{"", "permessage-deflate", " , "},
			[]Extension{pmd()}},
		{"every tchar", []string{"!#$%&'*+-.^_`|~09AZaz; !#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz"},
			[]Extension{{Name: "!#$%&'*+-.^_`|~09AZaz", Params: []Param{val("!#$%&'*+-.^_`|~09AZaz", "!#$%&'*+-.^_`|~09AZaz")}}}},
		{"case preserved", []string{"PerMessage-Deflate; Server_No_Context_Takeover"},
			[]Extension{{Name: "PerMessage-Deflate", Params: []Param{bare("Server_No_Context_Takeover")}}}},
		{"repeated parameter kept for negotiation to judge", []string{"permessage-deflate; a; a=1"},
			[]Extension{pmd(bare("a"), val("a", "1"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExtensions(tt.values)
			if err != nil {
				t.Fatalf("ParseExtensions(%q): %v", tt.values, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseExtensions(%q)\n got %#v\nwant %#v", tt.values, got, tt.want)
			}
		})
	}
}

func TestParseExtensions_RFC6455_9_1_Invalid(t *testing.T) {
	tests := []struct {
		name   string
		values []string
	}{
		{"empty value", []string{""}},
		{"only whitespace and commas", []string{" , ,\t"}},
		{"all fields empty", []string{"", " "}},
		{"leading semicolon", []string{"; permessage-deflate"}},
		{"trailing semicolon", []string{"permessage-deflate;"}},
		{"empty parameter", []string{"permessage-deflate;;client_max_window_bits"}},
		{"missing parameter name", []string{"permessage-deflate; =10"}},
		{"missing value", []string{"permessage-deflate; client_max_window_bits="}},
		{"missing value before comma", []string{"permessage-deflate; client_max_window_bits=, x"}},
		{"two equals", []string{"permessage-deflate; a=1=2"}},
		{"value on extension token", []string{"permessage-deflate=1"}},
		{"space inside token list", []string{"permessage deflate"}},
		{"space inside parameter", []string{"permessage-deflate; client max_window_bits"}},
		{"two values", []string{"permessage-deflate; a=1 2"}},
		{"unterminated quoted-string", []string{`permessage-deflate; a="10`}},
		{"backslash at end of quoted-string", []string{`permessage-deflate; a="10\`}},
		{"empty quoted-string", []string{`permessage-deflate; a=""`}},
		{"quoted value not a token (space)", []string{`permessage-deflate; a="1 0"`}},
		{"quoted value not a token (comma)", []string{`permessage-deflate; a="1,0"`}},
		{"quoted value not a token (escaped quote)", []string{`permessage-deflate; a="\""`}},
		{"control character in quoted-string", []string{"permessage-deflate; a=\"1\x010\""}},
		{"separator as value", []string{"permessage-deflate; a=[10]"}},
		{"non-ASCII token", []string{"permessage-déflate"}},
		{"CRLF", []string{"permessage-deflate\r\n"}},
		{"NUL", []string{"permessage-deflate\x00"}},
		{"one bad field among good ones", []string{"permessage-deflate", "x;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExtensions(tt.values)
			if err == nil {
				t.Fatalf("ParseExtensions(%q) = %#v, want an error", tt.values, got)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "deflate: ") || strings.ToLower(msg[:10]) != msg[:10] {
				t.Errorf("error %q: want a lowercase message starting with \"deflate: \"", msg)
			}
		})
	}
}

func TestParseExtensions_RFC6455_9_1_ErrorNamesValue(t *testing.T) {
	_, err := ParseExtensions([]string{"permessage-deflate; a=1=2"})
	if err == nil || !strings.Contains(err.Error(), `"permessage-deflate; a=1=2"`) || !strings.Contains(err.Error(), "offset 23") {
		t.Fatalf("error %v: want the value and offset 23", err)
	}
	long := strings.Repeat("x", 1000) + ";"
	_, err = ParseExtensions([]string{long})
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error for a long value should be clipped, got %d bytes", len(err.Error()))
	}
}
