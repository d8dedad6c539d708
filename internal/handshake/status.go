package handshake

import "net/http"

// StatusText returns the reason phrase of an HTTP status, or "Status" for an
// unknown one, so that any status the application picks forms a valid line.
func StatusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Status"
}
