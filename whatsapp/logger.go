package whatsapp

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"
)

// slogLogger bridges whatsmeow's logger to slog. Debug lines are dropped
// before they are formatted: whatsmeow traces every frame sent and received
// at debug level, which would put message traffic in the logs.
type slogLogger struct {
	log    *slog.Logger
	module string
}

// newSlogLogger returns whatsmeow's logger writing info and above to log,
// or whatsmeow's no-op logger when log is nil.
func newSlogLogger(log *slog.Logger) waLog.Logger {
	if log == nil {
		return waLog.Noop
	}
	return &slogLogger{log: log, module: "whatsmeow"}
}

func (l *slogLogger) write(level slog.Level, msg string, args []any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, fmt.Sprintf(msg, args...), "module", l.module)
}

func (l *slogLogger) Errorf(msg string, args ...any) { l.write(slog.LevelError, msg, args) }
func (l *slogLogger) Warnf(msg string, args ...any)  { l.write(slog.LevelWarn, msg, args) }
func (l *slogLogger) Infof(msg string, args ...any)  { l.write(slog.LevelInfo, msg, args) }

// Debugf drops the line (see slogLogger).
func (l *slogLogger) Debugf(string, ...any) {}

func (l *slogLogger) Sub(module string) waLog.Logger {
	return &slogLogger{log: l.log, module: l.module + "/" + module}
}
