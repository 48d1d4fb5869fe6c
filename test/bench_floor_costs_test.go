package test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// floorCostVariants are what BenchmarkFloorCosts adds to the floor, one at a
// time: the kinds of work a release does beyond its shape
// (bench: *-per-release lines of BenchmarkInflightReleases), in about the
// numbers a release does them (a query is the client's: `runbook approve`
// asks the release's status). RUNBOOK_BENCH_FLOOR_VARIANTS (e.g.
// "query=1 pad=6000") runs others instead: "pad=N" adds N bytes to the
// inputs, priced per KB.
var floorCostVariants = []string{"upsert=4", "signal=1", "local=6", "timer=1", "query=1"}

// BenchmarkFloorCosts prices each kind of work a release adds to its shape
// on this server: it runs the floor plain, then with each of
// floorCostVariants, then plain again (the machine's drift over the run
// shows as the two plain runs' difference), N workflows each on a fresh
// dev server, and prints the server's CPU beyond its idle rate and the
// worker's CPU per workflow over its life (start to completion), and per
// unit of the extra over the plain runs' mean.
func BenchmarkFloorCosts(b *testing.B) {
	n := inflight(b)
	chosen := floorCostVariants
	if v := strings.Fields(os.Getenv("RUNBOOK_BENCH_FLOOR_VARIANTS")); len(v) > 0 {
		chosen = v
	}
	variants := append(append([]string{""}, chosen...), "")
	for range b.N {
		// Each run has a server of its own and is charged only what the
		// server spent beyond its idle rate just before it: a slower
		// variant would otherwise pay for more idle time.
		server := make([]float64, len(variants)) // ms a workflow
		worker := make([]float64, len(variants))
		sides := make([]scaleSide, len(variants))
		var idle []float64
		for i, v := range variants {
			freshServer(b)
			idle = append(idle, serverIdleRate(b))
			s := measureFloorWith(b, n, v)
			// The whole life, start to completion: a server does some
			// work after the fact (visibility writes, timers), which a
			// phase alone would charge to the next or to none.
			life := s.cpuToGate.server + s.cpuApprove.server
			busy := life.Seconds() - idle[i]*(s.gateTook+s.approveTook).Seconds()
			work := (s.cpuToGate.worker + s.cpuApprove.worker).Seconds()
			server[i], worker[i], sides[i] = busy*1000/float64(n), work*1000/float64(n), s
		}
		last := len(variants) - 1
		line := func(name string, v float64, unit string) { fmt.Printf("bench: %s %.2f %s\n", name, v, unit) }
		line("server-idle-cpu-before-first", idle[0]*1000, "ms/s")
		line("server-idle-cpu-before-last", idle[last]*1000, "ms/s")
		line("floor-plain-server-cpu-first", server[0], "ms")
		line("floor-plain-server-cpu-last", server[last], "ms")
		line("floor-plain-start-to-gate-rate-first", sides[0].startToGateRate(), "workflows/s")
		line("floor-plain-start-to-gate-rate-last", sides[last].startToGateRate(), "workflows/s")
		plainServer, plainWorker := (server[0]+server[last])/2, (worker[0]+worker[last])/2
		for i := 1; i < last; i++ {
			kind, count := variantCount(b, variants[i])
			units := float64(count)
			if kind == "pad" {
				// Priced per KB of input: the pad is in the parent's and
				// the child's inputs and in the activity's, 4 copies.
				kind, units = "input-kb", float64(4*count)/1024
			}
			line("floor-"+kind+"-server-cpu", server[i], "ms")
			line("floor-"+kind+"-start-to-gate-rate", sides[i].startToGateRate(), "workflows/s")
			line("cost-server-cpu-per-"+kind, (server[i]-plainServer)/units, "ms")
			line("cost-worker-cpu-per-"+kind, (worker[i]-plainWorker)/units, "ms")
		}
	}
}

// serverIdleRate is the CPU the test's Temporal server spends a second
// while no workflow runs, over a few seconds.
func serverIdleRate(b *testing.B) float64 {
	const over = 3 * time.Second
	c := startCPU(b, 0)
	time.Sleep(over) // a measurement interval, not a wait for state
	return c.lap(b).server.Seconds() / over.Seconds()
}

// variantCount splits "kind=N".
func variantCount(b *testing.B, v string) (string, int) {
	kind, n, _ := strings.Cut(v, "=")
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 {
		b.Fatalf("floor variant %q: want kind=N", v)
	}
	return kind, count
}
