package dora

import (
	"testing"
	"time"

	"github.com/runbookhq/runbook/workflows"
)

// release is a finished release whose production ended in state after
// starting at start and taking took.
func release(start time.Time, took time.Duration, state string) workflows.ReleaseStatus {
	return workflows.ReleaseStatus{StartedAt: start, State: state, Environments: []workflows.EnvironmentStatus{
		{Name: "staging", State: workflows.StateSucceeded, EndedAt: start.Add(took / 2)},
		{Name: "production", State: state, EndedAt: start.Add(took)},
	}}
}

func TestCompute(t *testing.T) {
	day := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	h := time.Hour
	statuses := []workflows.ReleaseStatus{
		release(day, h, workflows.StateSucceeded),
		release(day.Add(24*h), 2*h, workflows.StateRolledBack),  // fails at 11:00 on the 2nd
		release(day.Add(24*h+3*h), h, workflows.StateSucceeded), // restores at 13:00: 2 h
		release(day.Add(48*h), 3*h, workflows.StateSucceeded),
		release(day.Add(72*h), h, workflows.StateRejected),   // a rejection changed nothing
		release(day.Add(-48*h), h, workflows.StateSucceeded), // before the period
	}
	d := Compute("checkout", "production", day, day.Add(10*24*h), statuses)
	if d.Deployments != 3 || d.Failures != 1 || d.Restores != 1 {
		t.Fatalf("deployments %d, failures %d, restores %d; want 3, 1, 1", d.Deployments, d.Failures, d.Restores)
	}
	if d.PerDay != 0.3 || d.ChangeFailureRate != 0.25 {
		t.Errorf("per day %v, change failure rate %v; want 0.3 and 0.25", d.PerDay, d.ChangeFailureRate)
	}
	if d.LeadTime != h || d.TimeToRestore != 2*h {
		t.Errorf("lead time %s, time to restore %s; want 1h and 2h", d.LeadTime, d.TimeToRestore)
	}
	if s := Compute("checkout", "staging", day, day.Add(10*24*h), statuses); s.Deployments != 5 || s.Failures != 0 {
		t.Errorf("staging: %d deployments, %d failures; want 5 and 0", s.Deployments, s.Failures)
	}
}

// With build metadata, lead time runs from the commit, not the release.
func TestDORALeadTimeFromCommit(t *testing.T) {
	day := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	h := time.Hour
	withCommit := release(day, h, workflows.StateSucceeded)
	withCommit.Build = &workflows.BuildInfo{Commit: "abc1234", CommitTime: day.Add(-5 * h)}
	statuses := []workflows.ReleaseStatus{
		withCommit, // 6 h from the commit
		release(day.Add(24*h), 2*h, workflows.StateSucceeded),
		release(day.Add(48*h), 8*h, workflows.StateSucceeded),
	}
	d := Compute("checkout", "production", day.Add(-24*h), day.Add(10*24*h), statuses)
	if d.LeadTime != 6*h || d.LeadTimeFromCommit != 1 {
		t.Errorf("lead time %s from %d commit times; want 6h from 1", d.LeadTime, d.LeadTimeFromCommit)
	}
}

// A rollback of a release that had succeeded makes that release a failed
// change, restored in the rollback's time; the rollback itself is no
// deployment of its own.
func TestRollbackIsARestore(t *testing.T) {
	day := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	h := time.Hour
	good := release(day, h, workflows.StateSucceeded)
	good.ReleaseID = "release/checkout/1.0.0"
	bad := release(day.Add(24*h), h, workflows.StateSucceeded)
	bad.ReleaseID = "release/checkout/2.0.0"
	back := workflows.ReleaseStatus{ReleaseID: "rollback/checkout/production/1", StartedAt: day.Add(26 * h), State: workflows.StateSucceeded,
		Rollback:     &workflows.RollbackRequest{Of: bad.ReleaseID, FromVersion: "2.0.0", Reason: "INC-7", Path: workflows.RollbackTraffic},
		Environments: []workflows.EnvironmentStatus{{Name: "production", State: workflows.StateSucceeded, EndedAt: day.Add(26*h + 30*time.Second)}}}
	d := Compute("checkout", "production", day, day.Add(10*24*h), []workflows.ReleaseStatus{good, bad, back})
	if d.Deployments != 1 || d.Failures != 1 || d.Restores != 1 || d.TimeToRestore != 30*time.Second || d.ChangeFailureRate != 0.5 {
		t.Errorf("deployments %d, failures %d, restores %d in %s, CFR %v; want 1, 1, 1 in 30s, 0.5", d.Deployments, d.Failures, d.Restores, d.TimeToRestore, d.ChangeFailureRate)
	}
}

// A rollback started by an alert restores from when the alert fired, not
// from the rollback's own start; a release aborted by an alert is a
// failure restored when its compensation ended.
func TestAlertRestores(t *testing.T) {
	day := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	h := time.Hour
	bad := release(day, h, workflows.StateSucceeded)
	bad.ReleaseID = "release/checkout/2.0.0"
	fired := day.Add(h + 10*time.Minute)
	back := workflows.ReleaseStatus{ReleaseID: "rollback/checkout/production/1", StartedAt: fired.Add(time.Minute), State: workflows.StateSucceeded,
		Rollback:     &workflows.RollbackRequest{Of: bad.ReleaseID, FromVersion: "2.0.0", Reason: "alert", Path: workflows.RollbackTraffic},
		Trigger:      &workflows.Trigger{Kind: TriggerAlert, Source: "alertmanager", ID: "abc", Detail: "HighErrorRate " + AlertMark(fired)},
		Environments: []workflows.EnvironmentStatus{{Name: "production", State: workflows.StateSucceeded, EndedAt: fired.Add(3 * time.Minute)}}}
	aborted := release(day.Add(24*h), h, workflows.StateAborted)
	aborted.Environments[1].Reason = "aborted by alert:HighErrorRate: " + AlertMark(day.Add(24*h+50*time.Minute))
	plainAbort := release(day.Add(48*h), h, workflows.StateAborted)
	d := Compute("checkout", "production", day, day.Add(10*24*h), []workflows.ReleaseStatus{bad, back, aborted, plainAbort})
	if d.Failures != 3 || d.Restores != 2 {
		t.Fatalf("failures %d, restores %d; want 3 and 2 (the plain abort waits for a success)", d.Failures, d.Restores)
	}
	// Restores: 3m (rollback, from the alert) and 10m (abort: fired at :50, ended at 1h).
	if d.TimeToRestore != 10*time.Minute {
		t.Errorf("time to restore %s; want the median of 3m and 10m, 10m", d.TimeToRestore)
	}
	if r := Compute("checkout", "production", day, day.Add(10*24*h), []workflows.ReleaseStatus{bad, back}); r.TimeToRestore != 3*time.Minute {
		t.Errorf("rollback by an alert: time to restore %s; want 3m from the alert, not 2m from the rollback's start", r.TimeToRestore)
	}
	if _, ok := alertFired("no mark here"); ok {
		t.Error("a reason without the mark parsed as an alert")
	}
}
