package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fdWarnShare is how near the open-file limit the process may come before
// it warns: at 80% there is still room to shed load.
const fdWarnShare = 0.8

// watchDescriptors warns (log and herald_fd_limit_warnings_total) each time
// the process's open descriptors cross fdWarnShare of limit, so an
// operator hears of it before accept starts failing with "too many open
// files". It counts /proc/self/fd and does nothing where that is missing.
func watchDescriptors(ctx context.Context, limit uint64, every time.Duration, log *slog.Logger, warnings prometheus.Counter) {
	if limit == 0 {
		return
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	near := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			continue
		}
		open := uint64(len(fds))
		switch {
		case !near && float64(open) >= fdWarnShare*float64(limit):
			near = true
			warnings.Inc()
			log.Warn("open files near the limit: new connections will soon fail", "open", open, "limit", limit,
				"hint", "raise the hard limit (LimitNOFILE= in systemd, ulimit -Hn) or lower admission.max_handshakes")
		case near && float64(open) < 0.7*float64(limit):
			near = false
			log.Info("open files back under the limit", "open", open, "limit", limit)
		}
	}
}
