package tlsconf

import (
	"crypto/tls"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func names(ids []uint16) []string {
	var out []string
	for _, id := range ids {
		out = append(out, tls.CipherSuiteName(id))
	}
	return out
}

func TestParseOpenSSLCipherList_CipherListFormat(t *testing.T) {
	// ciphers(1) "CIPHER LIST FORMAT": names, keywords, '+' combinations,
	// '!', '-', '+' prefixes and @STRENGTH.
	for _, tc := range []struct {
		list string
		want []uint16
	}{
		{"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
		{"ECDHE+AESGCM+aRSA", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{"AES256-SHA,DHE-RSA-AES128-GCM-SHA256 ; TLS_AES_128_GCM_SHA256", []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA}},
		{"kRSA:!AESGCM:-RC4:!3DES", []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA}},
		// '-' removes, a later item can add back; '!' removes for good.
		{"RC4:-RC4:RC4-SHA", []uint16{tls.TLS_RSA_WITH_RC4_128_SHA}},
		{"RC4:!RC4:RC4-SHA", nil},
		// '+' moves to the end.
		{"AES128-SHA:AES256-SHA:+AES128-SHA", []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA}},
		// @STRENGTH sorts by strength, stable.
		{"DES-CBC3-SHA:AES128-SHA:AES256-SHA:@STRENGTH",
			[]uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}},
		{"MEDIUM:!RC4:@SECLEVEL=0", []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}},
		{"DEFAULT", DefaultCipherSuites()},
	} {
		got, err := ParseOpenSSLCipherList(tc.list)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%q = %v, want an error", tc.list, names(got))
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.list, err)
			continue
		}
		if tc.list == "DEFAULT" {
			slices.Sort(got)
			slices.Sort(tc.want)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q = %v\nwant %v", tc.list, names(got), names(tc.want))
		}
	}
	for _, tc := range []struct{ list, frag string }{
		{"", "empty"},
		{"FOO", `unknown cipher or keyword "FOO"`},
		{"ECDHE+BAR", `"BAR"`},
		{"@FOO", "unknown command"},
		{"@SECLEVEL=x", "bad"},
		{"!", "empty item"},
		{"DHE-RSA-AES128-GCM-SHA256:CAMELLIA:PSK", "selects no cipher suite that Go's crypto/tls implements (nothing for: DHE-RSA-AES128-GCM-SHA256, CAMELLIA, PSK)"},
		{"aNULL:eNULL", "selects no cipher suite"},
	} {
		_, err := ParseOpenSSLCipherList(tc.list)
		if err == nil || !strings.Contains(err.Error(), tc.frag) {
			t.Errorf("%q: error %v, want %q", tc.list, err, tc.frag)
		}
	}
	// The reference's documented default equivalent parses.
	if ids, err := ParseOpenSSLCipherList("ALL:!ADH:RC4+RSA:+SSLv2:@STRENGTH"); err != nil || len(ids) != len(goSuites)-3 {
		t.Errorf("reference default: %d suites, %v", len(ids), err)
	} else {
		for i := 1; i < len(ids); i++ {
			if CipherSuiteStrength(ids[i]) > CipherSuiteStrength(ids[i-1]) {
				t.Errorf("@STRENGTH order broken at %s", tls.CipherSuiteName(ids[i]))
			}
		}
	}
}

// opensslSelect returns the TLS 1.2-and-below suite IDs the openssl
// command selects for a cipher list.
func opensslSelect(t *testing.T, bin, list string) map[uint16]bool {
	t.Helper()
	out, err := exec.Command(bin, "ciphers", "-V", list+":@SECLEVEL=0").Output()
	if err != nil {
		return map[uint16]bool{} // "no cipher match"
	}
	ids := map[uint16]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[0], "0x") {
			continue
		}
		hi, e1 := strconv.ParseUint(strings.TrimPrefix(strings.Split(f[0], ",")[0], "0x"), 16, 8)
		lo, e2 := strconv.ParseUint(strings.TrimPrefix(strings.Split(f[0], ",")[1], "0x"), 16, 8)
		if e1 != nil || e2 != nil {
			continue
		}
		if id := uint16(hi<<8 | lo); !isTLS13Suite(id) {
			ids[id] = true
		}
	}
	return ids
}

func TestParseOpenSSLCipherList_AgreesWithOpenSSL(t *testing.T) {
	// For the suites both implement, our selection equals the openssl
	// command's (DEFAULT and MEDIUM differ on purpose and are left out).
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl command not found")
	}
	known := opensslSelect(t, bin, "ALL:COMPLEMENTOFALL")
	if len(known) == 0 {
		t.Skip("openssl lists no cipher")
	}
	for _, list := range []string{
		"ALL", "HIGH", "HIGH:!aNULL:!MD5", "ECDHE+AESGCM", "ALL:-RSA", "kRSA", "aRSA", "aECDSA", "ECDSA",
		"AES", "AES128", "AES256", "AESGCM", "CHACHA20", "SHA1", "SHA256", "SHA384:SHA256", "TLSv1.2", "TLSv1", "SSLv3",
		"ECDHE", "EECDH+AESGCM:EDH+AESGCM", "AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384", "HIGH:!kRSA:!SHA1",
		"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256",
	} {
		ours, err := ParseOpenSSLCipherList(list)
		if err != nil {
			t.Errorf("%q: %v", list, err)
			continue
		}
		theirs := opensslSelect(t, bin, list)
		for id := range known {
			if suiteByID[id] == nil {
				continue // not in Go
			}
			if in := slices.Contains(ours, id); in != theirs[id] {
				t.Errorf("%q: %s selected by us %v, by openssl %v", list, tls.CipherSuiteName(id), in, theirs[id])
			}
		}
	}
}
