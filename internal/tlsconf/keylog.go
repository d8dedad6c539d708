package tlsconf

import (
	"errors"
	"os"
)

// OpenKeyLog opens SSLKeyLogFile for tls.Config.KeyLogWriter: created if
// missing with mode 0600 (the secrets decrypt the traffic), and only ever
// appended to, as the reference requires. crypto/tls serializes its writes
// to KeyLogWriter; the caller closes the file.
func OpenKeyLog(path string) (*os.File, error) {
	if path == "" {
		return nil, errors.New("SSLKeyLogFile is empty")
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}
