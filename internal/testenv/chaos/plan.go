// Package chaos injects one fault into a worker's activities at an exact
// moment, for the fault-injection suite (`make chaos`, test/chaos_*_test.go).
// The product never uses it: test/chaosworker runs the real worker with this
// package's interceptor added.
//
// A Plan names an activity type (optionally narrowed by a substring of its
// arguments and the nth first attempt that matches), a moment and a fault.
// The plan is a JSON file the driver writes before the release it targets
// and the interceptor reads on every activity call, so a worker started
// before the plan exists, or restarted after the fault, needs no flags. The
// fault fires once per plan directory: the interceptor claims it by creating
// FiredFile exclusively, which also tells the driver it happened and where.
package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// EnvPlan names the plan file the chaos worker reads.
const EnvPlan = "RUNBOOK_CHAOS_PLAN"

// Files in the plan's directory.
const (
	// FiredFile is created when the fault fires; it holds a Fired record.
	FiredFile = "fired"
	// BarrierFile exists while an activity waits at a barrier; the driver
	// removes it once it has aborted or cancelled the release.
	BarrierFile = "barrier"
)

// Moment is when, relative to the activity's effect, the fault fires.
type Moment string

// The three moments of every side effect.
const (
	// Before: the activity has started, its effect has not.
	Before Moment = "before"
	// During: the effect runs (in another goroutine) when the fault fires.
	During Moment = "during"
	// After: the effect is done, its result not yet returned (recorded).
	After Moment = "after"
)

// Moments lists the moments in a fixed order.
var Moments = []Moment{Before, During, After}

// Fault is what happens at the moment.
type Fault string

// Faults the interceptor injects by itself; abort and cancel are barriers
// at which the driver acts.
const (
	// Kill is kill -9 of the worker process.
	Kill Fault = "kill"
	// Error returns a retryable error (a transient failure).
	Error Fault = "error"
	// Timeout holds the activity past its heartbeat or start-to-close
	// timeout without heartbeating, so Temporal times the attempt out.
	Timeout Fault = "timeout"
	// Barrier waits until the driver removes BarrierFile.
	Barrier Fault = "barrier"
)

// Plan is one fault at one moment of one activity.
type Plan struct {
	// Activity is the activity type, e.g. "SetWeights" or "AppendAudit".
	Activity string `json:"activity"`
	// Match, when set, must occur in the JSON of the activity's arguments.
	Match string `json:"match,omitempty"`
	// Occurrence picks the nth matching first attempt (default 1).
	Occurrence int `json:"occurrence,omitempty"`
	// Moment and Fault say when and what.
	Moment Moment `json:"moment"`
	Fault  Fault  `json:"fault"`
	// During is how long after the activity's start a During fault fires.
	During time.Duration `json:"during,omitempty"`
	// Label says what the barrier stands for (abort, cancel), for the logs.
	Label string `json:"label,omitempty"`
}

// Fired records where a fault fired.
type Fired struct {
	Activity string `json:"activity"`
	Attempt  int32  `json:"attempt"`
	Moment   Moment `json:"moment"`
	Fault    Fault  `json:"fault"`
	Local    bool   `json:"local,omitempty"`
	// EffectDone says whether the activity's own work had finished when
	// the fault fired (a During fault on a quick activity may come late).
	EffectDone bool      `json:"effect-done"`
	At         time.Time `json:"at"`
}

// WritePlan writes p as the plan file at path, atomically.
func WritePlan(path string, p Plan) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadPlan reads the plan file; ok is false when there is none.
func ReadPlan(path string) (p Plan, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Plan{}, false, nil
	}
	if err != nil {
		return Plan{}, false, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return Plan{}, false, fmt.Errorf("chaos plan %s: %w", path, err)
	}
	if p.Occurrence == 0 {
		p.Occurrence = 1
	}
	return p, true, nil
}

// ReadFired reads the fired record of a plan directory; ok is false while
// the fault has not fired.
func ReadFired(dir string) (f Fired, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, FiredFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Fired{}, false, nil
	}
	if err != nil {
		return Fired{}, false, err
	}
	if len(b) == 0 {
		// Claimed, record not written yet: it fired.
		return Fired{}, true, nil
	}
	err = json.Unmarshal(b, &f)
	return f, err == nil, err
}
