//go:build linux || darwin

package main

import (
	"fmt"
	"syscall"
)

// benchRaiseNoFile raises the soft RLIMIT_NOFILE to need, or says why it
// cannot. Only this process's limit: the server has its own.
func benchRaiseNoFile(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		// Root (CAP_SYS_RESOURCE) may raise the hard limit too, up to
		// fs.nr_open.
		raised := syscall.Rlimit{Cur: need, Max: need}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			return nil
		}
		return fmt.Errorf("need %d file descriptors, the hard limit (ulimit -Hn) is %d: lower --conns, or raise it (as root: ulimit -Hn %d, or prlimit --nofile=%d:%d --pid PID)", need, lim.Max, need, need, need)
	}
	lim.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", need, err)
	}
	return nil
}
