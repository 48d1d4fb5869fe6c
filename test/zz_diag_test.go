package test

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkZZDiag(b *testing.B) {
	br := newBenchRig(b, "diag")
	br.release(b, "0.0.0-warmup")
	start := time.Now()
	st := br.release(b, "1.0.0")
	fmt.Println("took", time.Since(start))
	runs := [][2]string{{st.ReleaseID, ""}}
	for _, e := range st.Environments {
		runs = append(runs, [2]string{e.WorkflowID, e.RunID})
	}
	var t0 time.Time
	for _, r := range runs {
		h := fetchHistory(b, stack.client, r[0], r[1])
		fmt.Println("==", r[0], len(h.Events))
		for _, ev := range h.Events {
			ts := ev.GetEventTime().AsTime()
			if t0.IsZero() {
				t0 = ts
			}
			fmt.Printf("%6d ms %3d %s\n", ts.Sub(t0).Milliseconds(), ev.GetEventId(), ev.GetEventType())
		}
	}
	for b.Loop() {
	}
}
