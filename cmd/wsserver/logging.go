package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/wsserver/wsserver"
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
	return slog.LevelDebug - 4
}

// newLogger returns the command's logger, writing text lines to w.
func newLogger(w io.Writer, level *slog.LevelVar) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// wireLogs routes the Log event of srv into log, tagged with the endpoint
// the server serves. The Error event needs no handler of its own: the server
// logs every error it fires at LogLevel 1.
func wireLogs(srv *wsserver.Server, log *slog.Logger, endpoint string) {
	log = log.With("endpoint", endpoint)
	srv.Events.OnLog = func(e *wsserver.LogEvent) {
		level := slogLevel(e.LogLevel)
		if e.LogType == "Error" {
			level = slog.LevelError
		}
		if !log.Enabled(context.Background(), level) {
			return
		}
		if e.ConnectionID != 0 {
			log.Log(context.Background(), level, e.Message, "conn", e.ConnectionID)
		} else {
			log.Log(context.Background(), level, e.Message)
		}
	}
}
