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

// files indexes the database by zone name once; a lookup by name, unlike
// (*zip.Reader).Open, ranges over no map, so workflowcheck sees no
// non-determinism in workflow code that loads a zone.
var files = index(zoneinfoZip)

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
	f, ok := files[name]
	if !ok {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// index maps zone names to their entries. The archive is compiled in, so a
// broken one is a broken build: it panics at start, not mid-release.
func index(b []byte) map[string]*zip.File {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		panic("embedded zone database: " + err.Error())
	}
	m := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			m[f.Name] = f
		}
	}
	return m
}
