//go:build unix

package audit

import (
	"errors"
	"os"
	"syscall"
)

// Lock modes for lockFile; flock locks the open file description, so two Log
// values in one process exclude each other just like two processes do.
const (
	lockShared    = syscall.LOCK_SH
	lockExclusive = syscall.LOCK_EX
)

// lockFile takes an advisory flock on f and returns the function releasing it.
func lockFile(f *os.File, how int) (func(), error) {
	fd := int(f.Fd())
	for {
		err := syscall.Flock(fd, how)
		if err == nil {
			return func() { _ = syscall.Flock(fd, syscall.LOCK_UN) }, nil
		}
		if !errors.Is(err, syscall.EINTR) {
			return nil, err
		}
	}
}
