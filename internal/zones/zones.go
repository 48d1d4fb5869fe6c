// Package zones loads IANA time zones from a copy of the zone database that
// is compiled into the binary, never from the machine.
//
// Release windows are decided in workflow code, which every worker must
// replay to the same result. time.LoadLocation reads $ZONEINFO and the
// host's /usr/share/zoneinfo first and falls back to the embedded
// time/tzdata only when those lack the zone, so importing time/tzdata alone
// leaves two workers with different host data (an old container image, a
// patched distribution) disagreeing about whether a window is open. Load
// reads only zoneinfo.zip beside this file: tz 2025c, copied from Go
// 1.26.8's lib/time/zoneinfo.zip (the data time/tzdata embeds). Replacing
// it is a code change like any other, reviewed for in-flight releases.
package zones

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"sync"
	"time"
)

// Version is the IANA tz release of the embedded database.
const Version = "2025c"

//go:embed zoneinfo.zip
var zoneinfoZip []byte

var (
	mu    sync.Mutex
	cache = map[string]*time.Location{}
)

// Load returns the named zone from the embedded database: "" and "UTC" are
// UTC; "Local" is refused, as it is whatever zone the machine has.
func Load(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, fmt.Errorf("time zone Local depends on the machine; name the zone, e.g. UTC or Europe/Berlin")
	}
	mu.Lock()
	defer mu.Unlock()
	if loc, ok := cache[name]; ok {
		return loc, nil
	}
	data, err := Data(name)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	cache[name] = loc
	return loc, nil
}

// Data returns the TZif bytes of the named zone in the embedded database.
func Data(name string) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(zoneinfoZip), int64(len(zoneinfoZip)))
	if err != nil {
		return nil, fmt.Errorf("embedded zone database: %w", err)
	}
	f, err := zr.Open(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return io.ReadAll(f)
}
