package wsserver

import (
	"path"
	"strings"
)

// matchClients reports whether addr (an IP address) or one of its names
// matches the comma-separated list of AllowedClients/BlockedClients entries,
// in which "*" and "?" are wildcards (e.g. "192.168.*", "*.example.com").
func matchClients(list, addr string, names func() []string) bool {
	var resolved []string
	looked := false
	for _, pat := range strings.Split(list, ",") {
		pat = strings.TrimSpace(pat)
		if pat == "" {
			continue
		}
		if wildMatch(pat, addr) {
			return true
		}
		if isHostPattern(pat) {
			if !looked && names != nil {
				resolved, looked = names(), true
			}
			for _, n := range resolved {
				if wildMatch(strings.ToLower(pat), strings.ToLower(strings.TrimSuffix(n, "."))) {
					return true
				}
			}
		}
	}
	return false
}

// wildMatch matches s against a pattern with "*" and "?" wildcards.
func wildMatch(pat, s string) bool {
	// path.Match treats '/' specially and '[' as a class; neither occurs in
	// addresses or host names, so escape '[' and '\' and use it.
	pat = strings.NewReplacer(`\`, `\\`, `[`, `\[`).Replace(pat)
	ok, err := path.Match(pat, s)
	return err == nil && ok
}

// isHostPattern reports whether pat names hosts rather than addresses.
func isHostPattern(pat string) bool {
	return strings.IndexFunc(pat, func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
	}) >= 0
}
