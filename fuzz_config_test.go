package wsserver

import (
	"strings"
	"testing"
)

// FuzzConfig feeds arbitrary configuration strings to Config, the parser of
// the reference's "Name=Value" settings: it must never panic, every failure
// must be a *Error with a reference or wsserver code, and a value that was
// accepted must read back as something Config accepts again (a round trip).
func FuzzConfig(f *testing.F) {
	for _, seed := range []string{
		"BufferMessage=True", "MaxFrameSize=0", "MaxFrameSize=-1", "DisconnectStatusCode=1005",
		"DisconnectStatusDescription=" + strings.Repeat("é", 70), "MaxLineLength[1]=10",
		"MessageLength[x]=1", "CodePage=1252", "CodePage=99999", "UseIPv6=3", "AllowedClients=10.*,*.example.com",
		"SSLEnabledProtocols=48", "KeepAliveTime=0x10", "=", "[", "Name[", "LogLevel=3", "MaxConnections=100001",
		"HandshakeTimeout=NaN", "CloseTimeout=1e308", "unknown", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, setting string) {
		s := New()
		_, err := s.Config(setting)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Config(%q) returned %T, not *Error: %v", setting, err, err)
			}
			return
		}
		name, _, isSet := strings.Cut(setting, "=")
		if !isSet || strings.Contains(name, "[") {
			return
		}
		v, err := s.Config(name)
		if err != nil {
			t.Fatalf("Config(%q) was accepted but reading %q fails: %v", setting, name, err)
		}
		if _, err := s.Config(name + "=" + v); err != nil {
			t.Fatalf("Config(%q) reads back %q, which Config refuses: %v", setting, v, err)
		}
	})
}
