//go:build unix && !aix && !solaris

package migrate

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive flock(2) on path, waiting up to wait. SQLite
// has no lock that outlives a transaction, and golang-migrate's SQLite
// driver only locks within its own process, so without this two workers
// would both read version N and both apply N+1. The kernel drops the lock
// when the process dies, so a crashed worker leaves no stale lock behind.
func lockFile(ctx context.Context, path string, wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, err
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, errFileLocked
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// unlockFile releases a lock taken by lockFile; closing the file drops it.
func unlockFile(f *os.File) {
	_ = f.Close()
}
