package test

// What the scale benchmark reads: the audit log as the worker writes it, the
// worker process (RSS, goroutines, heap, sticky cache) and the histories.

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// parallel calls f(0..n-1) on width goroutines and returns the first error
// (after every call ended, so nothing runs on when it returns).
func parallel(n, width int, f func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(n, width) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := f(i); err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("%w (and maybe more)", first)
	}
	return nil
}

// auditTail counts the actions of the audit log's records as the worker
// appends them: a gate's gate.waiting record is written as it opens, so the
// count says how many releases reached their gates without asking the
// worker (a status query each would load what is measured).
type auditTail struct {
	path    string
	off     int64
	partial []byte
	counts  map[string]int
}

// read takes the records appended since the last read.
func (a *auditTail) read() error {
	if a.counts == nil {
		a.counts = map[string]int{}
	}
	f, err := os.Open(a.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no record yet
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(a.off, io.SeekStart); err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	a.off += int64(len(b))
	b = append(a.partial, b...)
	end := bytes.LastIndexByte(b, '\n')
	a.partial = append([]byte(nil), b[end+1:]...)
	sc := bufio.NewScanner(bytes.NewReader(b[:end+1]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			Action string `json:"action"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("audit log %s: %w", a.path, err)
		}
		a.counts[e.Action]++
	}
	return sc.Err()
}

// waitFor polls the log until it holds n records of action.
func (a *auditTail) waitFor(b *testing.B, action string, n int, within time.Duration) {
	b.Helper()
	deadline := time.Now().Add(within)
	for {
		if err := a.read(); err != nil {
			b.Fatal(err)
		}
		if a.counts[action] >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d %s records after %s, want %d", a.counts[action], action, within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// workerProbe reads a `runbook worker` process: its RSS from /proc, and,
// through its HTTP server (RUNBOOK_HTTP_ADDR, RUNBOOK_PPROF), goroutines,
// heap and the SDK's sticky cache.
type workerProbe struct {
	pid  int
	addr string
}

// vmRSS is a process's resident set size in bytes.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

// cpuSplit is CPU time spent by the worker, by the Temporal server and by
// the benchmark's own process (the client starting, approving and waiting:
// it shares the machine's two cores with them), and the time the machine's
// hypervisor gave its CPUs to others (steal, all CPUs): a phase with much
// of it runs slower at the same CPU per release.
type cpuSplit struct{ worker, server, client, steal time.Duration }

// cpuClock reads the CPU time of the worker and the server since the last
// lap.
type cpuClock struct {
	worker, server int
	last           cpuSplit
}

// startCPU starts counting the CPU time of the worker (pid) and of the
// test's Temporal server.
func startCPU(b *testing.B, pid int) *cpuClock {
	c := &cpuClock{worker: pid}
	if stack.server != nil { // the dev server; the benchmark runs on no other
		c.server = stack.server.Pid()
	}
	c.lap(b)
	return c
}

// lap returns the CPU time each spent since the last lap.
func (c *cpuClock) lap(b *testing.B) cpuSplit {
	b.Helper()
	now := cpuSplit{worker: cpuTime(b, c.worker), server: cpuTime(b, c.server), client: cpuTime(b, os.Getpid()), steal: stealTime(b)}
	d := cpuSplit{worker: now.worker - c.last.worker, server: now.server - c.last.server,
		client: now.client - c.last.client, steal: now.steal - c.last.steal}
	c.last = now
	return d
}

// cpuTime is a process's user and system CPU time, from /proc/PID/stat
// (in clock ticks of 1/100 s, Linux's USER_HZ).
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	if pid == 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name, field 2, may hold spaces: count after its ")".
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		b.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// stealTime is the machine's steal time, from the first line of /proc/stat
// (its eighth value, in clock ticks of 1/100 s).
func stealTime(b *testing.B) time.Duration {
	b.Helper()
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		b.Fatalf("/proc/stat: unexpected first line %q", line)
	}
	ticks, err := strconv.ParseInt(f[8], 10, 64)
	if err != nil {
		b.Fatalf("/proc/stat steal: %v", err)
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func (p workerProbe) rss(b *testing.B) int64 {
	b.Helper()
	v, err := vmRSS(p.pid)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func (p workerProbe) get(path string) (string, error) {
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(body), err
}

func (p workerProbe) waitReady(b *testing.B) {
	b.Helper()
	eventually(b, "worker ready on "+p.addr, func() bool {
		_, err := p.get("/readyz")
		return err == nil
	})
}

// workerRuntime is what the worker's process holds at one moment.
type workerRuntime struct {
	goroutines, heapInuse, stackInuse, stickyCache float64
}

// runtime reads goroutines, live heap and stacks from pprof and the sticky
// cache's size from /metrics. Read it after the RSS: it runs a GC.
func (p workerProbe) runtime(b *testing.B) workerRuntime {
	b.Helper()
	var rt workerRuntime
	g, err := p.get("/debug/pprof/goroutine?debug=1")
	if err != nil {
		b.Fatalf("goroutines: %v", err)
	}
	if _, err := fmt.Sscanf(g, "goroutine profile: total %g", &rt.goroutines); err != nil {
		b.Fatalf("goroutine profile: %v", err)
	}
	// gc=1 collects first: the heap in use is then what the releases hold,
	// not garbage the next cycle frees.
	h, err := p.get("/debug/pprof/heap?debug=1&gc=1")
	if err != nil {
		b.Fatalf("heap: %v", err)
	}
	rt.heapInuse = promValue(h, "# HeapInuse = ")
	if i := strings.Index(h, "\n# Stack = "); i >= 0 {
		// "# Stack = inuse / sys"
		_, _ = fmt.Sscanf(h[i:], "\n# Stack = %g", &rt.stackInuse)
	}
	m, err := p.get("/metrics")
	if err != nil {
		b.Fatalf("metrics: %v", err)
	}
	// One cache per process, reported by each of the worker's three
	// workers (shared, host and freezes queues): the largest is the cache.
	rt.stickyCache = promMax(m, "temporal_sticky_cache_size")
	return rt
}

// saveMetrics writes the worker's /metrics to the folder
// RUNBOOK_BENCH_PROFILE_DIR names, if set, as NAME-metrics.txt: the SDK's
// task latencies (schedule-to-start, execution, local activities) say where
// a phase's time went.
func (p workerProbe) saveMetrics(b *testing.B, name string) {
	b.Helper()
	dir := os.Getenv("RUNBOOK_BENCH_PROFILE_DIR")
	if dir == "" {
		return
	}
	body, err := p.get("/metrics")
	if err != nil {
		b.Fatalf("metrics: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-metrics.txt"), []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
}

// saveProfiles writes the worker's heap and goroutine profiles to the
// folder RUNBOOK_BENCH_PROFILE_DIR names, if set, as NAME-heap.pb.gz and
// NAME-goroutine.txt: where each release's memory goes, for `go tool pprof`.
func (p workerProbe) saveProfiles(b *testing.B, name string) {
	b.Helper()
	dir := os.Getenv("RUNBOOK_BENCH_PROFILE_DIR")
	if dir == "" {
		return
	}
	for file, path := range map[string]string{
		name + "-heap.pb.gz":    "/debug/pprof/heap?gc=1",
		name + "-goroutine.txt": "/debug/pprof/goroutine?debug=1",
		name + "-allocs.pb.gz":  "/debug/pprof/allocs",
	} {
		body, err := p.get(path)
		if err != nil {
			b.Fatalf("profile %s: %v", path, err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// profileCPU starts a CPU profile of the worker, if RUNBOOK_BENCH_PROFILE_DIR
// names a folder, of RUNBOOK_BENCH_PROFILE_SECONDS (10 unless set); the
// function it returns waits for it and writes NAME-cpu.pb.gz.
func (p workerProbe) profileCPU(b *testing.B, name string) func() {
	dir := os.Getenv("RUNBOOK_BENCH_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	secs := cmp.Or(os.Getenv("RUNBOOK_BENCH_PROFILE_SECONDS"), "10")
	done := make(chan error, 1)
	go func() {
		body, err := p.get("/debug/pprof/profile?seconds=" + secs)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name+"-cpu.pb.gz"), []byte(body), 0o644)
		}
		done <- err
	}()
	return func() {
		b.Helper()
		if err := <-done; err != nil {
			b.Fatalf("CPU profile: %v", err)
		}
	}
}

// promValue sums the values of the lines that start with prefix (a
// Prometheus series of any labels, or a `# Name = V` line of pprof).
func promValue(text, prefix string) float64 {
	sum := 0.0
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		f := strings.Fields(l)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// promMax is the largest value of the series that start with prefix.
func promMax(text, prefix string) float64 {
	best := 0.0
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); strings.HasPrefix(l, prefix) && len(f) > 1 {
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				best = max(best, v)
			}
		}
	}
	return best
}

// minus is what n releases added to the worker since before.
func (rt workerRuntime) minus(before workerRuntime, n int) workerRuntime {
	return workerRuntime{
		goroutines:  (rt.goroutines - before.goroutines) / float64(n),
		heapInuse:   (rt.heapInuse - before.heapInuse) / float64(n),
		stackInuse:  (rt.stackInuse - before.stackInuse) / float64(n),
		stickyCache: (rt.stickyCache - before.stickyCache) / float64(n),
	}
}

// freshServer replaces the dev server with a new, empty one, so that each
// side of a comparison runs on a server holding nothing of the other: a
// server slows as it accumulates workflows, timers and visibility rows
// (BenchmarkFloorCosts saw the same floor at a third of its rate after five
// runs of it). On the real server it does nothing.
func freshServer(b *testing.B) {
	b.Helper()
	requireStack(b)
	if stack.server == nil {
		return
	}
	stack.client.Close()
	if err := stack.server.Stop(); err != nil {
		b.Fatalf("stop the dev server: %v", err)
	}
	stack.server, stack.client = nil, nil
	startStack()
	if stack.err != nil {
		b.Fatalf("start a fresh dev server: %v", stack.err)
	}
	awaitServerIdle(b)
}

// awaitServerIdle polls the dev server's CPU a second at a time until it
// spends under a twentieth of a CPU: a server just started (and given its
// namespaces and search attributes) works for a while, which would
// otherwise count against the first side measured on it.
func awaitServerIdle(b *testing.B) {
	b.Helper()
	c := startCPU(b, 0)
	deadline := time.Now().Add(time.Minute)
	for {
		time.Sleep(time.Second) // one window of the CPU rate polled
		if busy := c.lap(b).server; busy < 50*time.Millisecond {
			return
		} else if time.Now().After(deadline) {
			b.Fatalf("the fresh dev server still spends %s of CPU a second after a minute", busy)
		}
	}
}
