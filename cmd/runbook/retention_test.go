package main

import (
	"strings"
	"testing"
	"time"
)

func TestRetentionWarning(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	if w := retentionWarning("default", 90*day, now.Add(-30*day), now); w != "" {
		t.Errorf("30 days in 90: %q, want no warning", w)
	}
	if w := retentionWarning("default", 90*day, time.Time{}, now); w != "" {
		t.Errorf("no range: %q, want no warning", w)
	}
	w := retentionWarning("default", 30*day, now.Add(-90*day), now)
	for _, want := range []string{"keeps closed workflows for 30d", "ended before 2026-11-07", "from 2026-09-08", "--namespace default --retention 90d"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q lacks %q", w, want)
		}
	}
}
