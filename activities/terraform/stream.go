package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"go.temporal.io/sdk/activity"
)

// heartbeatEvery is how often a running command heartbeats even when OpenTofu
// prints nothing (a provider waiting on a slow API, a long local-exec), well
// inside any heartbeat timeout a workflow would set for these activities.
const heartbeatEvery = 5 * time.Second

// message is the part of OpenTofu's machine-readable UI (-json) we read.
type message struct {
	Type       string             `json:"type"`
	Hook       *hook              `json:"hook"`   // apply_*, refresh_*
	Change     *hook              `json:"change"` // planned_change
	Changes    *changes           `json:"changes"`
	Diagnostic *tfjson.Diagnostic `json:"diagnostic"`
}

type hook struct {
	Resource struct {
		Addr string `json:"addr"`
	} `json:"resource"`
	Action string `json:"action"`
}

type changes struct {
	Add, Change, Remove int
	Operation           string
}

// stream is the stdout of a -json command: it tracks progress for heartbeats
// and keeps the diagnostics, which -json prints to stdout instead of stderr.
type stream struct {
	mu        sync.Mutex
	partial   []byte
	p         Progress
	planned   map[string]string // address -> planned action
	completed map[string]int    // address -> apply_complete messages seen
	diags     []diagnostic
	summary   *changes
	secrets   []string       // redacted from Current: heartbeats show in the UI
	changed   func(Progress) // called outside mu on every progress change
}

// newStream starts the progress of a phase; total is the number of changes
// known beforehand (from the saved plan), 0 if unknown.
func newStream(phase string, total int) *stream {
	return &stream{p: Progress{Phase: phase, Total: total}, planned: map[string]string{}, completed: map[string]int{}}
}

// Write splits b into lines; a line may arrive in pieces.
func (s *stream) Write(b []byte) (int, error) {
	s.mu.Lock()
	s.partial = append(s.partial, b...)
	var lines [][]byte
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, bytes.Clone(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	changed := false
	for _, l := range lines {
		changed = s.handle(l) || changed
	}
	p, f := s.p, s.changed
	s.mu.Unlock()
	if changed && f != nil {
		f(p)
	}
	return len(b), nil
}

// handle applies one message with mu held and reports whether the progress changed.
func (s *stream) handle(line []byte) bool {
	var m message
	if json.Unmarshal(line, &m) != nil {
		return false // not a JSON line: warnings of an old CLI, ignored
	}
	switch m.Type {
	case "planned_change":
		if m.Change != nil {
			return s.plan(m.Change.Resource.Addr, m.Change.Action)
		}
	case "apply_start", "refresh_start":
		if m.Hook != nil {
			s.p.Current = redact(m.Hook.Resource.Addr, s.secrets)
			return true
		}
	case "apply_complete":
		if m.Hook != nil {
			return s.complete(m.Hook.Resource.Addr)
		}
	case "change_summary":
		s.summary = m.Changes
	case "diagnostic":
		if m.Diagnostic != nil {
			s.diags = append(s.diags, fromJSON(*m.Diagnostic))
		}
	}
	return false
}

// plan counts a planned change once per address; Total only grows, so a
// total known from the saved plan is not lowered.
func (s *stream) plan(addr, action string) bool {
	if _, seen := s.planned[addr]; seen {
		return false
	}
	s.planned[addr] = action
	s.p.Total = max(s.p.Total, len(s.planned))
	return true
}

// complete marks addr done once all its operations finished: a replace
// reports a delete and a create.
func (s *stream) complete(addr string) bool {
	s.completed[addr]++
	need := 1
	if s.planned[addr] == "replace" {
		need = 2
	}
	if s.completed[addr] != need {
		return false
	}
	s.p.Done++
	return true
}

func (s *stream) progress() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

func (s *stream) diagnostics() []diagnostic {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]diagnostic(nil), s.diags...)
}

// removed is the number of resources the command destroyed: OpenTofu's own
// count when it printed one, else the deletions seen.
func (s *stream) removed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.summary != nil {
		return s.summary.Remove
	}
	return s.p.Done
}

// heartbeat records s's progress as the activity's heartbeat on every change
// and every heartbeatEvery until stop is called, so Temporal sees the
// activity alive while OpenTofu prints nothing; observe, if set, sees the
// same. Outside an activity (the CLI, plain tests) there is no heartbeat.
func heartbeat(ctx context.Context, s *stream, observe func(Progress)) (stop func()) {
	return beat(ctx, s, observe, heartbeatEvery)
}

func beat(ctx context.Context, s *stream, observe func(Progress), every time.Duration) (stop func()) {
	isActivity := activity.IsActivity(ctx)
	if !isActivity && observe == nil {
		return func() {}
	}
	record := func(p Progress) {
		if observe != nil {
			observe(p)
		}
		if isActivity {
			activity.RecordHeartbeat(ctx, p)
		}
	}
	s.mu.Lock()
	s.changed = record
	s.mu.Unlock()
	record(s.progress())
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				record(s.progress())
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { close(done) }
}
