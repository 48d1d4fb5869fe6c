package audit

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestAuditRetentionLoop: the worker's retention prunes at start and at
// every tick, and stops with its context.
func TestAuditRetentionLoop(t *testing.T) {
	s := openLog(t, filepath.Join(t.TempDir(), "audit.jsonl"))
	appendN(t, s, 10)
	keep := 400 * 24 * time.Hour
	// The clock reaches 400 days after entry 4, then after entry 8.
	clock := []time.Time{t0.Add(keep + 4500*time.Millisecond), t0.Add(keep + 8500*time.Millisecond)}
	now := func() time.Time { c := clock[0]; clock = clock[1:]; return c }
	ticks := make(chan time.Time)
	type outcome struct {
		res PruneResult
		err error
	}
	reports := make(chan outcome)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runRetention(ctx, s, keep, ticks, now, func(res PruneResult, err error) { reports <- outcome{res, err} })
	}()

	first := <-reports
	if first.err != nil || first.res.Removed != 4 || first.res.Entry.Actor != "runbook" || first.res.Entry.Detail[:15] != "retention 400d:" {
		t.Fatalf("retention at start = %+v, %v", first.res, first.err)
	}
	ticks <- time.Time{}
	second := <-reports
	if second.err != nil || second.res.Removed != 4 || second.res.Entry.Pruned.FromSeq != 5 {
		t.Fatalf("retention at the tick = %+v, %v", second.res, second.err)
	}
	cancel()
	<-done
	wantIntact(t, s, 4, 9, 12)
}

func TestAuditParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "400d": 400 * 24 * time.Hour, "36h": 36 * time.Hour} {
		if got, err := ParseRetention(in); err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"0d", "-1d", "forever"} {
		if _, err := ParseRetention(bad); err == nil {
			t.Errorf("ParseRetention(%q) accepted", bad)
		}
	}
	if got := FormatRetention(400 * 24 * time.Hour); got != "400d" {
		t.Errorf("FormatRetention = %q", got)
	}
}
