//go:build linux || darwin

package loadgen

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit raises this process's soft limit on open files (RLIMIT_NOFILE) as far as its
// hard limit allows, because every WebSocket is a file descriptor and the usual soft limit (1024)
// stops a load test long before the server does. It returns the soft limit now in force, and an
// error wrapping ErrFileLimit that names both limits when need descriptors still do not fit.
func RaiseFileLimit(need uint64) (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("failed to read the open-file limit: %w", err)
	}
	if r.Cur < need && r.Cur < r.Max {
		raised := r
		raised.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			return r.Cur, fmt.Errorf("failed to raise the open-file limit from %d to its hard limit %d: %w", r.Cur, r.Max, err)
		}
		r = raised
	}
	if r.Cur < need {
		return r.Cur, fmt.Errorf("%w: %d file descriptors are needed, but RLIMIT_NOFILE is %d (hard limit %d): "+
			"use fewer connections, or raise the hard limit (ulimit -Hn as root, LimitNOFILE= in systemd, docker run --ulimit nofile=N:N)",
			ErrFileLimit, need, r.Cur, r.Max)
	}
	return r.Cur, nil
}
