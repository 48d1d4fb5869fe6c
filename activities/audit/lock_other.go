//go:build !unix

package audit

import (
	"errors"
	"os"
)

// Lock modes for lockFile.
const (
	lockShared = iota
	lockExclusive
)

// lockFile fails: without flock, appends from several processes could fork the
// chain, and a silently forked audit log is worse than none.
func lockFile(*os.File, int) (func(), error) {
	return nil, errors.New("the audit log needs flock, which this platform lacks")
}
