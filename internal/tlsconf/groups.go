package tlsconf

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// groupNames maps the reference's group names (and, as an extension, the
// IANA names of Go's hybrid post-quantum groups) to crypto/tls curve IDs.
var groupNames = map[string]tls.CurveID{
	"ecdhe_x25519":       tls.X25519,
	"ecdhe_secp256r1":    tls.CurveP256,
	"ecdhe_secp384r1":    tls.CurveP384,
	"ecdhe_secp521r1":    tls.CurveP521,
	"x25519mlkem768":     tls.X25519MLKEM768,
	"secp256r1mlkem768":  tls.SecP256r1MLKEM768,
	"secp384r1mlkem1024": tls.SecP384r1MLKEM1024,
}

// unsupportedGroups are groups the reference knows that crypto/tls does
// not implement, with their IANA code points.
var unsupportedGroups = map[string]uint16{
	"ecdhe_x448": 30,
	"ffdhe_2048": 256,
	"ffdhe_3072": 257,
	"ffdhe_4096": 258,
	"ffdhe_6144": 259,
	"ffdhe_8192": 260,
}

func isHybrid(id tls.CurveID) bool {
	return id == tls.X25519MLKEM768 || id == tls.SecP256r1MLKEM768 || id == tls.SecP384r1MLKEM1024
}

// ParseTLS12SupportedGroups maps TLS12SupportedGroups to curve IDs. See
// ParseTLS13SupportedGroups; the post-quantum hybrids are TLS 1.3 only and
// an error here.
func ParseTLS12SupportedGroups(value string) (groups []tls.CurveID, skipped []string, err error) {
	return parseGroups("TLS12SupportedGroups", value, false)
}

// ParseTLS13SupportedGroups maps TLS13SupportedGroups to curve IDs.
//
// Names (comma-separated, case-insensitive): ecdhe_x25519, ecdhe_secp256r1,
// ecdhe_secp384r1, ecdhe_secp521r1, and as an extension Go's hybrid
// post-quantum groups x25519mlkem768, secp256r1mlkem768,
// secp384r1mlkem1024. The reference's ecdhe_x448 and ffdhe_2048 ...
// ffdhe_8192 are not implemented by crypto/tls: they are skipped and
// returned in skipped (the reference's default values list them), unless
// nothing else is left, which is an error naming them. Unknown names are
// an error. An empty value returns nil: crypto/tls's default.
func ParseTLS13SupportedGroups(value string) (groups []tls.CurveID, skipped []string, err error) {
	return parseGroups("TLS13SupportedGroups", value, true)
}

// ParseTLS13KeyShareGroups validates TLS13KeyShareGroups like
// ParseTLS13SupportedGroups. The setting tells a client which key shares to
// pregenerate; a crypto/tls server takes whichever share the client sent,
// so on a server the value has no effect beyond validation.
func ParseTLS13KeyShareGroups(value string) (groups []tls.CurveID, skipped []string, err error) {
	return parseGroups("TLS13KeyShareGroups", value, true)
}

func parseGroups(setting, value string, tls13 bool) ([]tls.CurveID, []string, error) {
	var (
		out       []tls.CurveID
		skipped   []string
		unknown   []string
		tls13Only []string
	)
	for _, f := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' }) {
		name := strings.ToLower(f)
		if id, ok := groupNames[name]; ok {
			if !tls13 && isHybrid(id) {
				tls13Only = append(tls13Only, f)
				continue
			}
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
			continue
		}
		if _, ok := unsupportedGroups[name]; ok {
			skipped = append(skipped, f)
			continue
		}
		unknown = append(unknown, f)
	}
	switch {
	case len(unknown) > 0:
		return nil, nil, fmt.Errorf("%s: unknown groups: %s", setting, strings.Join(unknown, ", "))
	case len(tls13Only) > 0:
		return nil, nil, fmt.Errorf("%s: %s can only be used with TLS 1.3", setting, strings.Join(tls13Only, ", "))
	case len(out) == 0 && len(skipped) > 0:
		return nil, nil, fmt.Errorf("%s: %s not implemented by Go's crypto/tls (supported: ecdhe_x25519, ecdhe_secp256r1, ecdhe_secp384r1, ecdhe_secp521r1)",
			setting, strings.Join(skipped, ", ")+pluralIs(len(skipped)))
	}
	return out, skipped, nil
}

func pluralIs(n int) string {
	if n == 1 {
		return " is"
	}
	return " are"
}

// goDefaultTLS12Groups and goDefaultTLS13Groups are crypto/tls's defaults
// (Go 1.26) for each version, used for a setting that is not given.
var (
	goDefaultTLS12Groups = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}
	goDefaultTLS13Groups = []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024,
		tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}
)

// CurvePreferences combines the parsed TLS12SupportedGroups and
// TLS13SupportedGroups into tls.Config.CurvePreferences for the enabled
// versions minVersion..maxVersion.
//
// crypto/tls has a single list for all versions and ignores its order, so:
// with only TLS 1.2 and below enabled the TLS 1.2 list is used; with only
// TLS 1.3 the TLS 1.3 list; with both, their union, which lets a group
// listed for one version be used with the other (the hybrids are TLS 1.3
// only in any case). A nil list stands for crypto/tls's default for that
// version; when both are nil the result is nil (crypto/tls's defaults,
// which include the hybrid post-quantum groups).
func CurvePreferences(tls12, tls13 []tls.CurveID, minVersion, maxVersion uint16) []tls.CurveID {
	if tls12 == nil && tls13 == nil {
		return nil
	}
	if minVersion == 0 {
		minVersion = tls.VersionTLS12
	}
	if maxVersion == 0 {
		maxVersion = tls.VersionTLS13
	}
	if tls12 == nil {
		tls12 = goDefaultTLS12Groups
	}
	if tls13 == nil {
		tls13 = goDefaultTLS13Groups
	}
	var out []tls.CurveID
	add := func(ids []tls.CurveID) {
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	if maxVersion >= tls.VersionTLS13 {
		add(tls13)
	}
	if minVersion < tls.VersionTLS13 {
		add(tls12)
	}
	return out
}

// GroupName names a key exchange group the reference's way:
// "ecdhe_x25519", "ecdhe_secp256r1", "ecdhe_secp384r1", "ecdhe_secp521r1",
// "ecdhe_x448", "ffdhe_2048"...; Go's hybrids by their IANA names
// ("X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024"); "GREASE"
// for RFC 8701 values; "0xXXXX" otherwise.
func GroupName(id tls.CurveID) string {
	switch id {
	case tls.X25519:
		return "ecdhe_x25519"
	case tls.CurveP256:
		return "ecdhe_secp256r1"
	case tls.CurveP384:
		return "ecdhe_secp384r1"
	case tls.CurveP521:
		return "ecdhe_secp521r1"
	case tls.X25519MLKEM768:
		return "X25519MLKEM768"
	case tls.SecP256r1MLKEM768:
		return "SecP256r1MLKEM768"
	case tls.SecP384r1MLKEM1024:
		return "SecP384r1MLKEM1024"
	}
	for n, v := range unsupportedGroups {
		if uint16(id) == v {
			return n
		}
	}
	if isGREASE(uint16(id)) {
		return "GREASE"
	}
	return fmt.Sprintf("0x%04X", uint16(id))
}
