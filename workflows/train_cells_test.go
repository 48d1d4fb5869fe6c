package workflows

import (
	"slices"
	"strings"
	"testing"
)

// trainCells: db ← api ← web, jobs alone; all but web succeeded.
func trainCells() []TrainCell {
	return []TrainCell{
		{Service: "db", State: StateSucceeded},
		{Service: "api", After: []string{"db"}, State: StateSucceeded},
		{Service: "web", After: []string{"api"}, State: StateFailed},
		{Service: "jobs", State: StateSucceeded},
		{Service: "cache", After: []string{"web"}, State: StateSucceeded},
	}
}

func names(cells []TrainCell, idx []int) []string {
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = cells[j].Service
	}
	return out
}

// TestRollbackSetByScope: dependents takes what depends on the failed
// service, environment everything, none nothing; dependents always go
// before what they depend on, and every service left says why.
func TestRollbackSetByScope(t *testing.T) {
	cells := trainCells()
	failed := []int{2}
	order, kept := rollbackSet(cells, failed, TrainScopeDependents)
	if got := names(cells, order); !slices.Equal(got, []string{"cache"}) {
		t.Errorf("dependents: %v, want [cache]", got)
	}
	if !strings.Contains(kept[0], "does not depend on web") || !strings.Contains(kept[3], "does not depend on web") {
		t.Errorf("dependents kept: %v", kept)
	}
	order, kept = rollbackSet(cells, failed, TrainScopeEnvironment)
	got := names(cells, order)
	if len(got) != 4 || len(kept) != 0 || slices.Index(got, "api") > slices.Index(got, "db") {
		t.Errorf("environment: %v (kept %v), want all four, api before db", got, kept)
	}
	order, kept = rollbackSet(cells, failed, TrainScopeNone)
	if len(order) != 0 || len(kept) != 4 {
		t.Errorf("none: %v, kept %v", names(cells, order), kept)
	}
}

// TestReadyCells: a service is ready once everything it comes after succeeded.
func TestReadyCells(t *testing.T) {
	cells := []TrainCell{
		{Service: "db", State: StatePending},
		{Service: "api", After: []string{"db"}, State: StatePending},
		{Service: "jobs", State: StatePending},
	}
	if got := names(cells, readyCells(cells)); !slices.Equal(got, []string{"db", "jobs"}) {
		t.Errorf("ready at start: %v", got)
	}
	cells[0].State, cells[2].State = StateSucceeded, StateRunning
	if got := names(cells, readyCells(cells)); !slices.Equal(got, []string{"api"}) {
		t.Errorf("ready after db: %v", got)
	}
}
