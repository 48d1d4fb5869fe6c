//go:build !unix || aix || solaris

package migrate

import (
	"context"
	"os"
	"time"
)

// lockFile: SQLite migrations need flock(2) to keep two migrators apart;
// without it they are refused rather than run unguarded.
func lockFile(context.Context, string, time.Duration) (*os.File, error) {
	return nil, invalid("SQLite migrations need flock(2), which this platform lacks; migrate from a Linux or macOS worker")
}

func unlockFile(*os.File) {}
