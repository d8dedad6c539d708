package main

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/wsserver/wsserver"
)

// Log formats of --log-format.
const (
	logText = "text"
	logJSON = "json"
)

// slogLevel maps the reference's LogLevel (0 none, 1 info, 2 verbose,
// 3 debug) onto the slog level the handler lets through. At 0 only errors
// and warnings are logged.
func slogLevel(logLevel int) slog.Level {
	switch logLevel {
	case 0:
		return slog.LevelWarn
	case 1:
		return slog.LevelInfo
	case 2:
		return slog.LevelDebug
	}
	return slog.LevelDebug - 8
}

// libraryLevel is the slog level of a library Log entry of the given
// LogLevel: a step below the command's own records, which carry the same
// facts as attributes (the library's entries are sentences), so that
// --log-level info shows the command's records and verbose adds the
// library's. Refusals are the exception: they come at warn level.
func libraryLevel(logLevel int) slog.Level {
	switch logLevel {
	case 1:
		return slog.LevelDebug
	case 2:
		return slog.LevelDebug - 4
	}
	return slog.LevelDebug - 8
}

// newLogger returns the command's logger, writing to w in format (logText:
// logfmt-style key=value lines; logJSON: one JSON object a line).
func newLogger(w io.Writer, level *slog.LevelVar, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// wireLogs routes the Log event of srv into log, tagged with the endpoint
// the server serves; idKey names the attribute of its ConnectionIDs ("conn"
// for /ws, "watcher" for /events: the two servers number their connections
// each from 1, so one key for both would mix them up). Errors are logged at
// error level; the server logs every error it fires at LogLevel 1, so the
// Error event needs no handler of its own.
func wireLogs(srv *wsserver.Server, log *slog.Logger, endpoint, idKey string) {
	log = log.With("endpoint", endpoint)
	srv.Events.OnLog = func(e *wsserver.LogEvent) {
		level := libraryLevel(e.LogLevel)
		switch {
		case e.LogType == "Error":
			level = slog.LevelError
		case e.LogLevel == 1 && strings.HasPrefix(e.Message, "Refused"):
			// A client turned away (Origin, MaxConnections, a filter, a bad
			// handshake) is news for the operator: no record of ours says it.
			level = slog.LevelWarn
		}
		if !log.Enabled(context.Background(), level) {
			return
		}
		if e.ConnectionID != 0 {
			log.Log(context.Background(), level, e.Message, idKey, e.ConnectionID)
		} else {
			log.Log(context.Background(), level, e.Message)
		}
	}
}
