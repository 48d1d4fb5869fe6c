package zones

import (
	"strings"
	"testing"
	"time"
)

func TestLoadKnowsDST(t *testing.T) {
	berlin, err := Load("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at     time.Time
		name   string
		offset int
	}{
		{time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), "CET", 3600},
		{time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC), "CEST", 7200},
	} {
		if name, off := c.at.In(berlin).Zone(); name != c.name || off != c.offset {
			t.Errorf("%s in Europe/Berlin is %s %+d s, want %s %+d s", c.at, name, off, c.name, c.offset)
		}
	}
	again, _ := Load("Europe/Berlin")
	if again != berlin {
		t.Error("a second Load parsed the zone again instead of using the cache")
	}
}

func TestLoadUTCAndRefusals(t *testing.T) {
	for _, name := range []string{"", "UTC"} {
		if loc, err := Load(name); err != nil || loc != time.UTC {
			t.Errorf("Load(%q) = %v, %v; want UTC", name, loc, err)
		}
	}
	for name, want := range map[string]string{
		"Local":            "depends on the machine",
		"Mars/Olympus":     "unknown time zone",
		"Europe":           "unknown time zone",
		"../../etc/passwd": "unknown time zone",
		"/etc/localtime":   "unknown time zone",
	} {
		if _, err := Load(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%q): %v; want an error containing %q", name, err, want)
		}
	}
}
