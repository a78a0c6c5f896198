//go:build linux || darwin

package main

import (
	"log/slog"
	"syscall"
)

// raiseNoFile raises the soft open-file limit to the hard one: every
// connection is a descriptor, and distributions start services with a soft
// limit of 1,024. Go's runtime already does so at start on Linux (not on
// every platform or version), so this mostly logs the limit in force, which
// it returns.
func raiseNoFile(log *slog.Logger) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("cannot read the open-file limit", "err", err)
		return 0
	}
	if lim.Cur >= lim.Max {
		log.Info("open-file limit (soft raised to the hard limit)", "limit", lim.Cur)
		return lim.Cur
	}
	from := lim.Cur
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("cannot raise the open-file limit", "limit", from, "hard_limit", lim.Max, "err", err)
		return from
	}
	log.Info("raised the open-file limit to the hard limit", "from", from, "limit", lim.Cur)
	return lim.Cur
}
