package test

// The scale benchmark's floor (test/floorworker) and what both sides'
// histories say each release costs.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/runbookhq/runbook/workflows"
)

// historySample is how many releases of each side the history figures are
// read from: every release has the same shape, so a sample says it.
const historySample = 50

var floorBuild struct {
	once sync.Once
	bin  string
	err  error
}

// floorBinary builds test/floorworker once.
func floorBinary(b *testing.B) string {
	b.Helper()
	floorBuild.once.Do(func() {
		if floorBuild.err = ensureTmp(); floorBuild.err != nil {
			return
		}
		floorBuild.bin = filepath.Join(stack.tmp, "floorworker")
		cmd := exec.Command("go", "build", "-o", floorBuild.bin, "./test/floorworker")
		cmd.Dir = repoRoot(b)
		if out, err := cmd.CombinedOutput(); err != nil {
			floorBuild.err = fmt.Errorf("go build ./test/floorworker: %v\n%s", err, out)
		}
	})
	if floorBuild.err != nil {
		b.Fatal(floorBuild.err)
	}
	return floorBuild.bin
}

// measureFloor runs the floor side: N bare workflows of a release's shape on
// the plain SDK worker, started and approved with the same parallelism.
func measureFloor(b *testing.B, n int) scaleSide {
	return measureFloorWith(b, n, "")
}

// measureFloorWith is measureFloor with the floor worker's FLOOR_EXTRAS set
// to extras ("" for none).
func measureFloorWith(b *testing.B, n int, extras string) scaleSide {
	r := newRig(b, "floor")
	c := stack.client
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "ok")
	}))
	b.Cleanup(srv.Close)
	w := r.startWorkerCmd(floorBinary(b), nil, append(workerEnv(), "FLOOR_TASK_QUEUE="+r.queue, "FLOOR_EXTRAS="+extras)...)
	probe := workerProbe{pid: w.cmd.Process.Pid}
	id := func(i int) string { return fmt.Sprintf("%s-%d", r.service, i) }
	checkURL := srv.URL + floorPad(b, extras)
	start := func(i int) error {
		_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id(i), TaskQueue: r.queue}, "FloorRelease", checkURL)
		return err
	}
	queries := floorExtra(b, extras, "query")
	approve := func(i int) error {
		// Asked first, as `runbook approve` asks the release's status.
		for range queries {
			if _, err := c.QueryWorkflow(context.Background(), id(i), "", "status"); err != nil {
				return fmt.Errorf("query %s: %w", id(i), err)
			}
		}
		// Tried again, as the release client does, when the server aborts
		// it because its workflow task failed (with FLOOR_EXTRAS=signal=1
		// the environment may close as the signal's acknowledgement comes).
		opts := client.UpdateWorkflowOptions{UpdateID: fmt.Sprintf("approve-%d", i),
			WorkflowID: id(i) + "/env", UpdateName: "approve", WaitForStage: client.WorkflowUpdateStageCompleted}
		var err error
		for range 4 {
			var h client.WorkflowUpdateHandle
			if h, err = c.UpdateWorkflow(context.Background(), opts); err == nil {
				err = h.Get(context.Background(), nil)
			}
			var notReady *serviceerror.WorkflowNotReady
			if !errors.As(err, &notReady) {
				break
			}
		}
		return err
	}
	waitHits := func(want int64, within time.Duration) {
		deadline := time.Now().Add(within)
		for hits.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("%d floor workflows reached their wait after %s, want %d", hits.Load(), within, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ids := make([]string, n+1)
	for i := range ids {
		ids[i] = id(i)
	}
	// The warm-up workflow, as on the runbook side.
	if err := start(n); err != nil {
		b.Fatalf("start the floor's warm-up: %v", err)
	}
	waitHits(1, scaleDeadline(1))
	if err := approve(n); err != nil {
		b.Fatalf("approve the floor's warm-up: %v", err)
	}
	if err := awaitFloor(c, ids[n:], scaleDeadline(1)); err != nil {
		b.Fatal(err)
	}
	side := scaleSide{n: n, rssIdle: probe.rss(b)}
	cpu := startCPU(b, probe.pid)
	t0 := time.Now()
	if err := parallel(n, scaleParallel, start); err != nil {
		b.Fatalf("start floor workflows: %v", err)
	}
	side.startTook = time.Since(t0)
	waitHits(int64(n+1), scaleDeadline(n))
	side.gateTook = time.Since(t0)
	side.cpuToGate = cpu.lap(b)
	side.rssAtGate = probe.rss(b)
	done := make(chan error, 1)
	go func() { done <- awaitFloor(c, ids[:n], scaleDeadline(n)) }()
	t0 = time.Now()
	if err := parallel(n, scaleParallel, approve); err != nil {
		b.Fatalf("approve floor workflows: %v", err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	side.approveTook = time.Since(t0)
	side.cpuApprove = cpu.lap(b)
	side.hist = sampleHistories(b, n, func(i int) [][2]string { return [][2]string{{id(i), ""}, {id(i) + "/env", ""}} })
	w.stop() // before the next side's server: it would retry this one
	return side
}

// floorExtra is the N of a "kind=N" in extras, 0 without one: the extras
// the floor's client adds itself ("query": status queries of the parent
// before each approval; "pad": bytes added to the check URL).
func floorExtra(b *testing.B, extras, kind string) int {
	for _, kv := range strings.Split(extras, ",") {
		if k, v, _ := strings.Cut(strings.TrimSpace(kv), "="); k == kind {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				b.Fatalf("floor extras %q: want %s=N", extras, kind)
			}
			return n
		}
	}
	return 0
}

// floorPad is the query string that pads the check URL by extras' "pad=N"
// bytes.
func floorPad(b *testing.B, extras string) string {
	if n := floorExtra(b, extras, "pad"); n > 0 {
		return "/?pad=" + strings.Repeat("p", n)
	}
	return ""
}

// awaitFloor waits for the floor workflows to complete, all at once.
func awaitFloor(c client.Client, ids []string, deadline time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	return parallel(len(ids), len(ids), func(i int) error {
		if err := c.GetWorkflow(ctx, ids[i], "").Get(ctx, nil); err != nil {
			return fmt.Errorf("floor workflow %s: %w", ids[i], err)
		}
		return nil
	})
}

// runbookHistories reads the histories of a sample of the releases: each
// release's and its environment's.
func runbookHistories(b *testing.B, ids []string, input func(int) workflows.ReleaseInput) historyStats {
	return sampleHistories(b, len(ids), func(i int) [][2]string {
		return [][2]string{{ids[i], ""}, {workflows.EnvironmentID(input(i).Runbook.Service, "production"), ""}}
	})
}

// historyStats adds up histories: the shape's cost (workflow tasks, events,
// bytes) and, by kind, what runbook adds to it.
type historyStats struct {
	releases              int
	tasks, events, bytes  int
	activities, localActs map[string]int
	byType                map[enumspb.EventType]int
	bytesByType           map[enumspb.EventType]int
	// worker is what each release added to the worker process (runbook only).
	worker workerRuntime
}

func (h historyStats) perRelease(v int) float64 { return float64(v) / float64(h.releases) }

// sampleHistories reads the workflows runs(i) names for up to historySample
// of the n releases, evenly spread.
func sampleHistories(b *testing.B, n int, runs func(i int) [][2]string) historyStats {
	h := historyStats{activities: map[string]int{}, localActs: map[string]int{}, byType: map[enumspb.EventType]int{}, bytesByType: map[enumspb.EventType]int{}}
	step := max(1, n/historySample)
	for i := 0; i < n; i += step {
		h.releases++
		for _, run := range runs(i) {
			hist := fetchHistory(b, stack.client, run[0], run[1])
			h.add(b, hist)
			if i == 0 {
				dumpEvents(b, run[0], hist)
			}
		}
	}
	return h
}

// dumpEvents writes a history's events, one line each, to the folder
// RUNBOOK_BENCH_PROFILE_DIR names, if set: what one release costs, to read.
func dumpEvents(b *testing.B, id string, hist *historypb.History) {
	dir := os.Getenv("RUNBOOK_BENCH_PROFILE_DIR")
	if dir == "" {
		return
	}
	var out strings.Builder
	for _, ev := range hist.Events {
		fmt.Fprintf(&out, "%3d %-45s %5d %s\n", ev.GetEventId(), ev.GetEventType(), proto.Size(ev), eventDetail(ev))
	}
	name := strings.NewReplacer("/", "_", ":", "_").Replace(id) + "-events.txt"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(out.String()), 0o644); err != nil {
		b.Fatal(err)
	}
}

// eventDetail names what an event is about: an activity, a local
// activity, a signal, an update or the search attributes it writes.
func eventDetail(ev *historypb.HistoryEvent) string {
	switch {
	case ev.GetActivityTaskScheduledEventAttributes() != nil:
		return ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
	case ev.GetMarkerRecordedEventAttributes() != nil:
		m := ev.GetMarkerRecordedEventAttributes()
		if ps := m.GetDetails()["data"].GetPayloads(); len(ps) > 0 {
			return m.GetMarkerName() + " " + string(ps[0].GetData())
		}
		return m.GetMarkerName()
	case ev.GetSignalExternalWorkflowExecutionInitiatedEventAttributes() != nil:
		return ev.GetSignalExternalWorkflowExecutionInitiatedEventAttributes().GetSignalName()
	case ev.GetWorkflowExecutionSignaledEventAttributes() != nil:
		return ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName()
	case ev.GetWorkflowExecutionUpdateAcceptedEventAttributes() != nil:
		return ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName()
	case ev.GetUpsertWorkflowSearchAttributesEventAttributes() != nil:
		return fmt.Sprint(slices.Sorted(maps.Keys(ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields())))
	}
	return ""
}

func (h *historyStats) add(b *testing.B, hist *historypb.History) {
	h.bytes += proto.Size(hist)
	h.events += len(hist.Events)
	for _, ev := range hist.Events {
		h.byType[ev.GetEventType()]++
		h.bytesByType[ev.GetEventType()] += proto.Size(ev)
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			h.tasks++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			h.activities[ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()]++
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			m := ev.GetMarkerRecordedEventAttributes()
			if m.GetMarkerName() != "LocalActivity" {
				continue
			}
			var data struct{ ActivityType string }
			if ps := m.GetDetails()["data"].GetPayloads(); len(ps) > 0 {
				if err := json.Unmarshal(ps[0].GetData(), &data); err != nil {
					b.Fatalf("local activity marker: %v", err)
				}
			}
			h.localActs[data.ActivityType]++
		}
	}
}

// printCosts prints what each release costs beyond its shape, per release.
func (h historyStats) printCosts(line func(string, float64, string)) {
	per := func(v int) float64 { return h.perRelease(v) }
	line("freeze-queries-per-release", per(h.localActs["ListFreezes"]), "local-activities")
	line("audit-local-activities-per-release", per(h.localActs["AppendAudit"]), "local-activities")
	line("progress-signals-per-release", per(h.byType[enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED]), "signals")
	line("search-attribute-upserts-per-release", per(h.byType[enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES]), "upserts")
	line("version-markers-per-release", per(h.byType[enumspb.EVENT_TYPE_MARKER_RECORDED]-sum(h.localActs)), "markers")
	line("timers-per-release", per(h.byType[enumspb.EVENT_TYPE_TIMER_STARTED]), "timers")
	for _, name := range sortedNames(h.activities) {
		line("activity-"+name+"-per-release", per(h.activities[name]), "activities")
	}
	for _, name := range sortedNames(h.localActs) {
		line("local-activity-"+name+"-per-release", per(h.localActs[name]), "local-activities")
	}
	for _, t := range sortedTypes(h.bytesByType) {
		line("history-bytes-"+strings.ToLower(strings.TrimPrefix(t.String(), "EVENT_TYPE_"))+"-per-release", per(h.bytesByType[t]), "bytes")
	}
	line("worker-goroutines-per-release", h.worker.goroutines, "goroutines")
	line("worker-heap-inuse-per-release", h.worker.heapInuse/1024, "KB")
	line("worker-stack-inuse-per-release", h.worker.stackInuse/1024, "KB")
	line("worker-sticky-cache-per-release", h.worker.stickyCache, "workflows")
}

func sum(m map[string]int) int {
	t := 0
	for _, v := range m {
		t += v
	}
	return t
}

func sortedTypes(m map[enumspb.EventType]int) []enumspb.EventType {
	out := make([]enumspb.EventType, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return m[out[i]] > m[out[j]] })
	return out
}

func sortedNames(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
