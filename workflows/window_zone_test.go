package workflows

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/zones"
	"github.com/runbookhq/runbook/runbooks"
)

// zoneProbeEnv makes the test binary, re-run as a child, print what it
// decides instead of testing.
const zoneProbeEnv = "RUNBOOK_ZONE_PROBE"

// zoneProbe is what the child process saw.
type zoneProbe struct {
	HostOffset int       `json:"host-offset"` // time.LoadLocation's Europe/Berlin, seconds east of UTC
	Opening    time.Time `json:"opening"`     // NextOpening of a Berlin office-hours window
}

var (
	probeNow    = time.Date(2026, 7, 15, 6, 30, 0, 0, time.UTC) // a Wednesday, 08:30 in Berlin
	probeWindow = runbooks.ReleaseWindow{Timezone: "Europe/Berlin", Start: "09:00", End: "17:00"}
)

// Two workers with different host zone data decide a window the same: a
// child process whose ZONEINFO says Europe/Berlin is Tokyo (so
// time.LoadLocation, which reads ZONEINFO and the host's zoneinfo before any
// embedded copy, is fooled) still finds the Berlin window closed until
// 09:00 CEST, from the database compiled into the binary.
func TestNextOpeningIgnoresHostZoneData(t *testing.T) {
	if os.Getenv(zoneProbeEnv) != "" {
		probe(t)
		return
	}
	tokyo, err := zones.Data("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "Europe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Europe", "Berlin"), tokyo, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNextOpeningIgnoresHostZoneData$", "-test.count=1")
	cmd.Env = append(os.Environ(), zoneProbeEnv+"=1", "ZONEINFO="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var p zoneProbe
	line, _, _ := strings.Cut(string(out), "\n")
	if err := json.Unmarshal([]byte(line), &p); err != nil {
		t.Fatalf("child printed %q: %v", out, err)
	}
	if p.HostOffset != 9*3600 {
		t.Fatalf("the child's host zone data was not the fake one (Europe/Berlin at %+d s, want Tokyo's +32400): the test proves nothing", p.HostOffset)
	}
	want := time.Date(2026, 7, 15, 7, 0, 0, 0, time.UTC) // 09:00 CEST
	if !p.Opening.Equal(want) {
		t.Errorf("with host data saying Berlin is Tokyo, the window opens at %s; want %s (09:00 CEST from the embedded database)", p.Opening, want)
	}
}

// probe runs in the child: it prints one JSON line and exits.
func probe(t *testing.T) {
	host, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	_, off := probeNow.In(host).Zone()
	opening, _, err := NextOpening(probeNow, probeWindow)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(zoneProbe{HostOffset: off, Opening: opening})
	os.Stdout.Write(append(b, '\n'))
	os.Exit(0)
}
