package test

// The fault-injection suite (issue 11): for every side-effecting step kind,
// every moment of its activity (before it starts, while it runs, after its
// effect but before its result is recorded) and every fault (abort, cancel
// from the Web UI's API, kill -9 of the worker, a transient error, an
// activity timeout), a release runs on the real local stack with the fault
// injected by test/chaosworker, and afterwards the real systems are read
// back and held against the release's status (chaos_check_test.go).
//
// `make test` runs a bounded subset: one trial per step kind and moment,
// the fault rotating with the seed. `make chaos` runs CHAOS_TRIALS trials
// drawn from the whole matrix (CHAOS_SEED repeats a run).

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/chaos"
)

// Faults a trial injects. abort and cancel are barriers at which the driver
// acts; the others the chaos worker injects by itself.
const (
	faultAbort   = "abort"
	faultCancel  = "cancel"
	faultKill    = "kill"
	faultError   = "error"
	faultTimeout = "timeout"
)

var chaosFaults = []string{faultAbort, faultCancel, faultKill, faultError, faultTimeout}

// chaosOp is one side effect of a step kind: the activity that makes it and
// the release that reaches it (pass: the release's last check passes; a
// failing one makes the release roll back, for the effects of undo).
type chaosOp struct {
	name, kind string
	activity   string
	match      string
	occurrence int
	pass       bool
	// during is how long after the activity's start a during-fault fires.
	during time.Duration
}

// chaosOps is every side-effecting step kind's activities, forward and undo.
var chaosOps = []chaosOp{
	{name: "provision.apply", kind: "provision", activity: "Apply", pass: true, during: 1500 * time.Millisecond},
	{name: "provision.destroy", kind: "provision", activity: "Destroy", during: 700 * time.Millisecond},
	{name: "migrate.up", kind: "migrate", activity: "Up", pass: true, during: 500 * time.Millisecond},
	{name: "migrate.down", kind: "migrate", activity: "Down", during: 300 * time.Millisecond},
	{name: "traffic.set-weights", kind: "traffic", activity: "SetWeights", pass: true, during: 2 * time.Millisecond},
	{name: "traffic.revert", kind: "traffic", activity: "SetWeights", occurrence: 2, during: 2 * time.Millisecond},
	{name: "traffic.bake", kind: "traffic", activity: "Bake", pass: true, during: time.Second},
	{name: "traffic.drain", kind: "traffic", activity: "Drain", pass: true, during: 2 * time.Millisecond},
	{name: "http-check.step", kind: "http-check", activity: "HTTPCheck", match: "/effect/register", pass: true, during: 100 * time.Millisecond},
	{name: "http-check.on-rollback", kind: "http-check", activity: "HTTPCheck", match: "/effect/unregister", during: 100 * time.Millisecond},
	{name: "slack.post", kind: "slack", activity: "PostGate", pass: true, during: 2 * time.Millisecond},
	{name: "slack.update", kind: "slack", activity: "UpdateGate", pass: true, during: 2 * time.Millisecond},
	{name: "audit.step", kind: "audit", activity: "AppendAudit", match: `"action":"step.succeeded"`, occurrence: 2, pass: true, during: time.Millisecond},
	{name: "audit.rollback", kind: "audit", activity: "AppendAudit", match: `"action":"compensation.ran"`, during: time.Millisecond},
}

// chaosTrial is one release with one fault.
type chaosTrial struct {
	n      int
	op     chaosOp
	moment chaos.Moment
	fault  string
}

func (tr chaosTrial) String() string {
	return fmt.Sprintf("trial %d %s", tr.n, tr.combo())
}

// combo names the op, moment and fault: provision.apply/during/kill.
func (tr chaosTrial) combo() string {
	return fmt.Sprintf("%s/%s/%s", tr.op.name, tr.moment, tr.fault)
}

// TestChaos runs the trials and prints the bench lines. Every violation
// fails it.
func TestChaos(t *testing.T) {
	t.Parallel()
	seed := envInt(t, "CHAOS_SEED", time.Now().UnixNano())
	n := int(envInt(t, "CHAOS_TRIALS", 0))
	parallel := int(envInt(t, "CHAOS_PARALLEL", 6))
	trials := chaosSubset(seed)
	if only := os.Getenv("CHAOS_ONLY"); only != "" {
		trials = chaosOnly(seed, n, strings.Split(only, ","))
	} else if n > 0 {
		trials = chaosMatrix(seed, n)
	}
	fmt.Printf("chaos: seed %d, %d trials, %d at a time (repeat with CHAOS_SEED=%d CHAOS_TRIALS=%d)\n", seed, len(trials), parallel, seed, n)
	requireStack(t)
	cs := newChaosStack(t)

	var mu sync.Mutex
	var violations []string
	notFired := 0
	sem := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	for _, tr := range trials {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t.Run(fmt.Sprintf("%d-%s-%s-%s", tr.n, tr.op.name, tr.moment, tr.fault), func(t *testing.T) {
				out := runChaosTrial(t, cs, tr)
				mu.Lock()
				defer mu.Unlock()
				if !out.fired {
					notFired++
				}
				for _, v := range out.violations {
					line := fmt.Sprintf("chaos violation: %s: %s", tr, v)
					violations = append(violations, line)
					fmt.Println(line)
					t.Error(v)
				}
			})
		}()
	}
	wg.Wait()
	fmt.Printf("chaos: %d of %d trials never reached their fault (the release ended before the activity ran)\n", notFired, len(trials))
	fmt.Printf("bench: chaos-trials %d count\n", len(trials))
	fmt.Printf("bench: chaos-violations %d count\n", len(violations))
}

// chaosSubset is the bounded run of `make test`: each step kind at each
// moment once, the op of the kind and the fault rotating with the seed.
func chaosSubset(seed int64) []chaosTrial {
	var kinds []string
	byKind := map[string][]chaosOp{}
	for _, op := range chaosOps {
		if len(byKind[op.kind]) == 0 {
			kinds = append(kinds, op.kind)
		}
		byKind[op.kind] = append(byKind[op.kind], op)
	}
	var out []chaosTrial
	for _, k := range kinds {
		for _, m := range chaos.Moments {
			i := len(out)
			ops := byKind[k]
			op := ops[int(uint64(seed+int64(i))%uint64(len(ops)))]
			fault := chaosFaults[int(uint64(seed+int64(i))%uint64(len(chaosFaults)))]
			out = append(out, chaosTrial{n: i + 1, op: op, moment: m, fault: fault})
		}
	}
	return out
}

// chaosMatrix draws n trials from every op × moment × fault: each pass
// through the matrix is shuffled by the seed, so n at least the matrix's
// size covers every combination.
func chaosMatrix(seed int64, n int) []chaosTrial {
	var all []chaosTrial
	for _, op := range chaosOps {
		for _, m := range chaos.Moments {
			for _, f := range chaosFaults {
				all = append(all, chaosTrial{op: op, moment: m, fault: f})
			}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6368616f73))
	var out []chaosTrial
	for len(out) < n {
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		for _, tr := range all {
			if len(out) == n {
				break
			}
			tr.n = len(out) + 1
			out = append(out, tr)
		}
	}
	return out
}

// chaosOnly is the trials of the matrix whose combo contains one of only
// (CHAOS_ONLY=migrate.up/during,traffic.revert), n of them when n > 0.
func chaosOnly(seed int64, n int, only []string) []chaosTrial {
	var out []chaosTrial
	for _, tr := range chaosMatrix(seed, len(chaosOps)*len(chaos.Moments)*len(chaosFaults)) {
		if slices.ContainsFunc(only, func(o string) bool { return strings.Contains(tr.combo(), o) }) {
			out = append(out, tr)
		}
	}
	for i := 0; n > 0 && len(out) > 0 && len(out) < n; i++ {
		out = append(out, out[i])
	}
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	for i := range out {
		out[i].n = i + 1
	}
	return out
}

func envInt(t *testing.T, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want an integer", name, v)
	}
	return n
}
