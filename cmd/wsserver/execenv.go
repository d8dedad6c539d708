package main

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/wsserver/wsserver"
)

// The environment of an exec program. It is clean: the server's own
// environment (its secrets included) is not passed on, only PATH, the
// variables named with --passenv, and CGI-style variables describing the
// request, as websocketd and CGI (RFC 3875 section 4.1) name them.

// execEnvHelp documents the environment in --help.
const execEnvHelp = `exec environment: the program does not inherit the server's environment. It
gets PATH, the variables named with --passenv, and, describing its client's
request, as CGI (RFC 3875) and websocketd name them:
  GATEWAY_INTERFACE=CGI/1.1  SERVER_SOFTWARE=wsserver/VERSION
  SERVER_PROTOCOL=HTTP/1.1   REQUEST_METHOD=GET
  SERVER_NAME, SERVER_PORT   the Host header's name and port (80, 443 with TLS)
  REQUEST_URI                the path and query as sent (/ws?room=1)
  SCRIPT_NAME (empty), PATH_INFO (the decoded path), QUERY_STRING
  REMOTE_ADDR, REMOTE_HOST (the address: no name lookup), REMOTE_PORT
  HTTPS=on                   with TLS only
  UNIQUE_ID                  a random identifier of the connection
  WSSERVER_CONNECTION_ID     the server's ConnectionId
  HTTP_*                     each request header (User-Agent: HTTP_USER_AGENT;
                             values of repeated headers joined with ", "),
                             except Proxy (httpoxy)
On Windows also SYSTEMROOT, WINDIR, COMSPEC, PATHEXT, TEMP and TMP.
`

// windowsEnv are passed on Windows too: programs there cannot start or
// find their files without them.
var windowsEnv = []string{"SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT", "TEMP", "TMP"}

// defaultPath is PATH for programs when the server has none.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// execEnv returns the environment of the program serving c.
func execEnv(c *wsserver.Connection, id int, isTLS bool, passenv []string) []string {
	env := make([]string, 0, 32)
	add := func(name, value string) {
		// A line break in a value could not harm exec, but would confuse
		// programs that read "env" output line by line.
		value = strings.NewReplacer("\r", " ", "\n", " ", "\x00", " ").Replace(value)
		env = append(env, name+"="+value)
	}
	path, ok := os.LookupEnv("PATH")
	if !ok {
		path = defaultPath
	}
	add("PATH", path)
	if runtime.GOOS == "windows" {
		passenv = append(windowsEnv[:len(windowsEnv):len(windowsEnv)], passenv...)
	}
	for _, name := range passenv {
		if name == "PATH" {
			continue
		}
		if v, ok := os.LookupEnv(name); ok {
			add(name, v)
		}
	}

	serverName, serverPort := c.Host(), ""
	if h, p, err := net.SplitHostPort(serverName); err == nil {
		serverName, serverPort = h, p
	} else {
		serverName = strings.TrimSuffix(strings.TrimPrefix(serverName, "["), "]")
	}
	if serverPort == "" {
		serverPort = "80"
		if isTLS {
			serverPort = "443"
		}
	}
	uri := c.RequestURI()
	rawPath, query, _ := strings.Cut(uri, "?")
	pathInfo, err := url.PathUnescape(rawPath)
	if err != nil {
		pathInfo = rawPath
	}
	add("GATEWAY_INTERFACE", "CGI/1.1")
	add("SERVER_SOFTWARE", "wsserver/"+wsserver.Version)
	add("SERVER_PROTOCOL", "HTTP/1.1")
	add("SERVER_NAME", serverName)
	add("SERVER_PORT", serverPort)
	add("REQUEST_METHOD", "GET")
	add("REQUEST_URI", uri)
	add("SCRIPT_NAME", "")
	add("PATH_INFO", pathInfo)
	add("QUERY_STRING", query)
	add("REMOTE_ADDR", c.RemoteHost())
	add("REMOTE_HOST", c.RemoteHost())
	add("REMOTE_PORT", strconv.Itoa(c.RemotePort()))
	if isTLS {
		add("HTTPS", "on")
	}
	add("UNIQUE_ID", uniqueID())
	add("WSSERVER_CONNECTION_ID", strconv.Itoa(id))

	// Request headers, in the order of RequestHeaders; repeated ones joined.
	var names []string
	values := map[string][]string{}
	for line := range strings.SplitSeq(c.RequestHeaders(), "\n") {
		name, value, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if !ok {
			continue
		}
		v := headerVar(name)
		if v == "" {
			continue
		}
		if _, seen := values[v]; !seen {
			names = append(names, v)
		}
		values[v] = append(values[v], strings.TrimSpace(value))
	}
	for _, v := range names {
		add(v, strings.Join(values[v], ", "))
	}
	return env
}

// headerVar is the CGI variable of a request header: HTTP_ and the name in
// upper case with "-" as "_"; "" for a header that gets none: names with
// characters a variable name should not hold, and Proxy, whose HTTP_PROXY
// many programs would take as their proxy (httpoxy, CVE-2016-5385).
func headerVar(name string) string {
	name = strings.TrimSpace(name)
	if name == "" || strings.EqualFold(name, "Proxy") {
		return ""
	}
	b := []byte("HTTP_" + name)
	for i := 5; i < len(b); i++ {
		switch c := b[i]; {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c == '-':
			b[i] = '_'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		default:
			return ""
		}
	}
	return string(b)
}

// uniqueID returns 16 random bytes in hex.
func uniqueID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parsePassenv checks --passenv: comma-separated variable names.
func parsePassenv(v string) ([]string, error) {
	var names []string
	for n := range strings.SplitSeq(v, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if strings.ContainsAny(n, "= \t\x00") {
			return nil, usagef("--passenv %q: want variable names separated by commas, e.g. --passenv HOME,LANG", n)
		}
		names = append(names, n)
	}
	return names, nil
}
