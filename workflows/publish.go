package workflows

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
)

var auditActs *audit.Activities

// auditRecord is one line for the audit log, filled by the workflow.
type auditRecord struct {
	action, actor, step, outcome, detail string
	// channel is where a person's decision came from (cli, slack, ui).
	channel string
	// identity is how the actor was verified (signed decisions only).
	identity string
}

// audit appends a record to the audit log through a local activity (one
// marker event instead of three). The record ID is derived from the workflow
// run and a counter, so a retried or replayed write is not duplicated. The
// log is a compliance record, so a write the store refuses is never
// dropped: it is retried in the background (status: audit-pending) while the
// environment goes on, and the environment closes only once it is written.
func (e *environment) audit(ctx workflow.Context, r auditRecord) {
	e.writeAudit(ctx, append(e.takeHeld(), e.auditEntry(ctx, r)))
}

// auditLater makes record r now (its ID and time) and holds it back, in
// runs that write records together (lean-release 5), to go with the next
// record in one local activity: one marker and one fsync instead of two.
// The caller makes sure nothing acts on a system before that next record
// or a flushAudit: a held record could otherwise trail what it led to.
// Other runs write it at once.
func (e *environment) auditLater(ctx workflow.Context, r auditRecord) {
	if !e.together {
		e.audit(ctx, r)
		return
	}
	e.held = append(e.held, e.auditEntry(ctx, r))
}

// flushAudit writes the held records, and waits for the writes in flight
// (an Update handler's may carry held records), before something acts.
func (e *environment) flushAudit(ctx workflow.Context) {
	if !e.together {
		return
	}
	if held := e.takeHeld(); len(held) > 0 {
		e.writeAudit(ctx, held)
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(ctx, func() bool { return e.auditWriting == 0 })
}

// settle, in runs that settle (lean-release 6), writes the held records and
// waits for the audit writes of Update handlers in flight before the caller
// acts on what a person decided: the decision is on record before what it
// led to. A handler counts its write (auditWriting) before it yields, so a
// decision seen here is one whose write is counted.
func (e *environment) settle(ctx workflow.Context) {
	if e.settles {
		e.flushAudit(ctx)
	}
}

// takeHeld returns the held records and holds none.
func (e *environment) takeHeld() []audit.Entry {
	held := e.held
	e.held = nil
	return held
}

// writeAudit writes entries, in order, with one local activity.
func (e *environment) writeAudit(ctx workflow.Context, entries []audit.Entry) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	in := audit.AppendAuditInput{Entry: entries[len(entries)-1]}
	if len(entries) > 1 {
		in.Entries = entries
	}
	e.auditWriting++
	appendAudit(ctx, in, &e.status.AuditPending)
	e.auditWriting--
}

// auditEntry makes the log entry of r, numbered for a stable ID.
func (e *environment) auditEntry(ctx workflow.Context, r auditRecord) audit.Entry {
	e.auditSeq++
	if r.actor == "" {
		r.actor = "runbook"
	}
	return audit.Entry{
		ID:          fmt.Sprintf("%s/%s/%d", e.status.WorkflowID, e.status.RunID, e.auditSeq),
		Time:        workflow.Now(ctx).UTC(),
		Actor:       r.actor,
		Action:      r.action,
		Release:     e.in.ReleaseID,
		Service:     e.in.Service,
		Environment: e.in.Env.Name,
		Version:     e.in.Version,
		Step:        r.step,
		Outcome:     r.outcome,
		Detail:      r.detail,
		Channel:     r.channel,
		Identity:    r.identity,
		Digest:      cmp.Or(e.in.Digest, e.in.Artifact.Digest),
		Commit:      commitOf(e.in.Build),
		BreakGlass:  e.in.BreakGlass != nil,
	}
}

// Audit write bounds: the local activity gives up after auditLocalAttempts
// (a few seconds), so an outage of the store neither stalls the workflow
// (rollbacks included) nor grows history with retries; the background
// activity then retries at most every auditRetryMax, for as long as it
// takes.
const (
	auditLocalAttempts = 3
	auditRetryMax      = time.Minute
)

// appendAudit writes a record with a bounded local activity and, when the
// store does not take it, hands it to an activity that retries until it
// does: in the background when pending is given (it counts the records
// handed over and not written yet; the caller waits for zero before it
// closes), otherwise before returning.
func appendAudit(ctx workflow.Context, in audit.AppendAuditInput, pending *int) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    5 * time.Second,
		ScheduleToCloseTimeout: 15 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 5 * time.Second, MaximumAttempts: auditLocalAttempts},
		Summary:                "audit " + auditActions(in),
	})
	err := workflow.ExecuteLocalActivity(lctx, auditActs.AppendAudit, in).Get(lctx, nil)
	if err == nil {
		return
	}
	log := workflow.GetLogger(ctx)
	log.Error("audit write failed; retrying in the background", "action", in.Entry.Action, "id", in.Entry.ID, "error", err)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: auditRetryMax},
		Summary:             "audit " + auditActions(in) + " (retry: the store refused it)",
	})
	write := func(gctx workflow.Context) {
		if err := workflow.ExecuteActivity(actx, auditActs.AppendAudit, in).Get(gctx, nil); err != nil {
			log.Error("audit write failed for good", "action", in.Entry.Action, "id", in.Entry.ID, "error", err)
		}
	}
	if pending == nil {
		write(ctx)
		return
	}
	*pending++
	workflow.Go(ctx, func(gctx workflow.Context) {
		write(gctx)
		*pending--
	})
}

// auditActions names the actions an append writes, for its summary.
func auditActions(in audit.AppendAuditInput) string {
	if len(in.Entries) == 0 {
		return in.Entry.Action
	}
	names := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		names[i] = e.Action
	}
	return strings.Join(names, " + ")
}

// publish refreshes what people see: the Web UI's current details and the
// parent release's copy of this environment's status.
func (e *environment) publish(ctx workflow.Context) {
	e.status.Revision++
	workflow.SetCurrentDetails(ctx, e.details())
	if e.parent.ID == "" {
		return
	}
	if e.coalesce {
		if e.lean && isFinal(e.status.State) && e.status.AuditPending == 0 {
			// The release takes the final status from this workflow's
			// result, which follows at once: a snapshot would only cost
			// both workflows an event and the release a workflow task.
			return
		}
		if e.status.PhasesOnly {
			phase := e.status.phase()
			if phase == e.sentPhase {
				return
			}
			e.sentPhase = phase
		}
		e.dirty = true // sent by the progress coroutine, once per workflow task
		return
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	// Fire and forget: the parent also gets the final status from the
	// child's result, so a lost snapshot only delays the picture.
	_ = workflow.SignalExternalWorkflow(ctx, e.parent.ID, e.parent.RunID, signalProgress, e.status)
}

// progressChange versions coalesced progress: releases started before it
// replay with one signal per publish.
const progressChange = "coalesce-progress"

// progressPhasesChange versions progress by phase: an environment signals
// its release only when its phase changes (phase), not at every step, so
// the release's history shows children, gates and timers rather than
// progress; clients read the steps from the environment's own query.
const progressPhasesChange = "progress-phases"

// phase is what the release must learn at once: the state, a pause, what
// blocks the environment (the Web UI's first line and RunbookStatus), the
// risk level and whether audit records wait for the store. Step progress
// is not part of it.
func (s EnvironmentStatus) phase() string {
	risk := ""
	if s.Risk != nil {
		risk = s.Risk.Level
	}
	return fmt.Sprintf("%s|%t|%s|%s|%s|%d", s.State, s.Paused, s.PausedBy, s.Blocking(""), risk, s.AuditPending)
}

// startProgress sends the parent at most one progress signal per workflow
// task: publish only marks the status dirty, and a coroutine, which runs
// once the main one blocks, sends the latest snapshot. Several publishes in
// one task (a step ends, the next starts) become one signal, which keeps
// both histories small; the parent keeps the newest snapshot either way.
func (e *environment) startProgress(ctx workflow.Context) {
	if e.parent.ID == "" || !changed(ctx, e.lean, progressChange) {
		return
	}
	e.coalesce = true
	e.status.PhasesOnly = changed(ctx, e.lean, progressPhasesChange)
	if e.quiet && e.status.PhasesOnly {
		// The release marked this environment running as it started it:
		// that phase needs no snapshot.
		e.sentPhase = EnvironmentStatus{State: StateRunning}.phase()
	}
	// Disconnected: the rollback after a cancellation reports progress too.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for workflow.Await(ctx, func() bool { return e.dirty }) == nil {
			e.dirty = false
			_ = workflow.SignalExternalWorkflow(ctx, e.parent.ID, e.parent.RunID, signalProgress, e.status)
		}
	})
}

// details renders the environment for the Web UI as markdown.
func (e *environment) details() string {
	var b strings.Builder
	if line := e.status.Blocking(e.in.ReleaseID); line != "" {
		b.WriteString(blockingMarkdown(line) + "\n\n")
	}
	fmt.Fprintf(&b, "**%s %s → %s**: %s", e.in.Service, e.in.Version, e.status.Name, e.status.State)
	if e.status.Paused {
		fmt.Fprintf(&b, " (paused by %s)", e.status.PausedBy)
	}
	if e.status.Reason != "" {
		fmt.Fprintf(&b, " — %s", e.status.Reason)
	}
	b.WriteString(laterSteps(e.status.Steps))
	for _, f := range e.flags() {
		fmt.Fprintf(&b, "\n\n**⚠ %s**", f)
	}
	if e.status.BreakGlass != "" {
		fmt.Fprintf(&b, "\n\nBreak-glass %s", e.status.BreakGlass)
	}
	writeSteps(&b, e.status.Steps)
	// Once it rolls back, the plan matters more than the weights: it comes
	// first, high in the frame and the page.
	rolledBack := len(e.status.Compensations) > 0 && (e.status.State == StateRollingBack ||
		e.status.State == StateRolledBack || e.status.State == StateRollbackIncomplete)
	if rolledBack {
		writePlan(&b, e.status.Compensations)
	}
	if tr := e.status.Traffic; tr != nil {
		writeTraffic(&b, tr)
	}
	writeFlags(&b, e.status.Flags)
	if !rolledBack {
		writePlan(&b, e.status.Compensations)
	}
	writeLeftovers(&b, e.status.Leftovers)
	if n := e.status.AuditPending; n > 0 {
		fmt.Fprintf(&b, "\n**⚠ %d audit records not written yet**: the audit store refuses them; they are retried until it takes them\n", n)
	}
	// Long things last: the build is in the static details too.
	if build := e.in.Build.String(); build != "" {
		fmt.Fprintf(&b, "\nBuild: %s\n", build)
	}
	return b.String() + frameEnd
}

// writeFlags renders the feature flags the environment's flag steps moved.
func writeFlags(b *strings.Builder, fs []FlagStatus) {
	if len(fs) == 0 {
		return
	}
	b.WriteString("\n**Feature flags**\n\n| flag | step | stage | now | before |\n|---|---|---|---|---|\n")
	for _, f := range fs {
		fmt.Fprintf(b, "| %s | %s | %d/%d | %s | %s |\n", f.Flag, f.Step, f.Stage, f.Stages, f.Rollout, f.Previous)
	}
	for _, f := range fs {
		if x := f.Experiment; x != nil {
			fmt.Fprintf(b, "\nExperiment %s (%s, stage %d): **%s**; %s\n", x.Metric, f.Flag, f.Stage, x.Verdict, x.Detail)
		}
	}
}

// writePlan renders the rollback plan, each compensation with its state
// and what it read back.
func writePlan(b *strings.Builder, cs []CompensationStatus) {
	if len(cs) == 0 {
		return
	}
	// A blank line after the heading, or the UI's markdown runs the
	// numbered list into the heading's paragraph.
	b.WriteString("\n**Rollback plan**\n\n")
	for i, c := range cs {
		fmt.Fprintf(b, "%d. %s: %s (%s)", i+1, c.Step, c.Action, c.State)
		if c.ReadBack != "" {
			fmt.Fprintf(b, " — read back: %s", c.ReadBack)
		}
		b.WriteString("\n")
	}
}

// writeSteps renders the steps that started as a table (the ones not
// started yet are one line, laterSteps): the details frame of the Web UI is
// about 640 px wide, and the running or failed step's row must fit in it
// whole, its detail included. So there is no kind column (the step's name
// and detail say what it does), digests and paths are shortened so the
// detail wraps, and a waiting gate names its approvers.
func writeSteps(b *strings.Builder, steps []StepStatus) {
	b.WriteString("\n\n| step | state | detail |\n|---|---|---|\n")
	for _, s := range steps {
		if s.State == StatePending || s.State == StateNotReached {
			continue
		}
		detail := s.Detail
		if s.Error != "" {
			detail = s.Error
		}
		if g := s.Gate; g != nil && g.State == StateWaiting {
			detail += " — approvers: " + GateApprovers(g)
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", s.Name, s.State, codeCommand(shortPaths(strings.ReplaceAll(shortDigests(detail), "|", "/"))))
	}
}

// commandRE finds a runbook command a detail tells a person to run.
var commandRE = regexp.MustCompile(`runbook (freeze|migrate|approve|reject|resume|promote|abort|traffic|drift|status) `)

// codeCommand puts the command at the end of a detail in a code span, so
// the UI's markdown shows it as typed ("--reason" would become a dash).
func codeCommand(detail string) string {
	loc := commandRE.FindStringIndex(detail)
	if loc == nil {
		return detail
	}
	return detail[:loc[0]] + "`" + detail[loc[0]:] + "`"
}

// laterSteps names, for the header line, the steps still to come and the
// ones a failure means will never run.
func laterSteps(steps []StepStatus) string {
	var next, notReached []string
	for _, s := range steps {
		switch s.State {
		case StatePending:
			next = append(next, s.Name)
		case StateNotReached:
			notReached = append(notReached, s.Name)
		}
	}
	out := ""
	if len(next) > 0 {
		out += " · next: " + strings.Join(next, " → ")
	}
	if len(notReached) > 0 {
		out += " · not reached: " + strings.Join(notReached, ", ")
	}
	return out
}

// upsertAttrs keeps the search attributes current, writing only changes so
// history stays small.
func (e *environment) upsertAttrs(ctx workflow.Context) {
	state := e.status.State
	if e.status.Paused && !isFinal(state) {
		state = StatePaused
	} else if e.glance {
		state = e.status.glanceState(state)
	}
	upsertAll(ctx, e.lean, attr{AttrStatus, state}, attr{AttrStep, e.status.CurrentStep})
}

// upsertChanged upserts a keyword search attribute when its value changed.
func upsertChanged(ctx workflow.Context, key temporal.SearchAttributeKeyKeyword, value string) {
	u, changed := attrUpdate(ctx, key, value)
	if !changed {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, u); err != nil {
		workflow.GetLogger(ctx).Warn("search attribute not updated", "key", key.GetName(), "error", err)
	}
}

// writeLeftovers renders what a rollback-incomplete environment left, and
// how to finish it.
func writeLeftovers(b *strings.Builder, ls []Leftover) {
	if len(ls) == 0 {
		return
	}
	b.WriteString("\n**⚠ ROLLBACK INCOMPLETE — left to do by hand**\n")
	for _, l := range ls {
		fmt.Fprintf(b, "- %s: %s — fix: `%s`\n", l.Step, l.What, l.Fix)
	}
}

// writeTraffic renders the weights and the analysis rounds kept in the
// status as a markdown table, newest first.
func writeTraffic(b *strings.Builder, tr *TrafficStatus) {
	fmt.Fprintf(b, "\n**Traffic** (%s): %s %d%% (live) · %s %d%% (new)", tr.Provider,
		tr.Live, tr.Weights[tr.Live], tr.Target, tr.Weights[tr.Target])
	if tr.Phase > 0 {
		fmt.Fprintf(b, " · %s weight %d of %d", tr.Strategy, tr.Phase, tr.Phases)
	}
	b.WriteString("\n")
	if tr.Hold != "" {
		fmt.Fprintf(b, "\n**Held:** %s\n", tr.Hold)
	}
	rounds := tr.Rounds
	if d := tr.Decisive; d != nil && (len(rounds) == 0 || rounds[len(rounds)-1].Round != d.Round) {
		rounds = append(slices.Clone(rounds), *d)
	}
	if len(rounds) == 0 {
		return
	}
	b.WriteString("\n| round | verdict | measurements |\n|---|---|---|\n")
	for i := len(rounds) - 1; i >= 0; i-- {
		r := rounds[i]
		var ms []string
		for _, m := range r.Measurements {
			ms = append(ms, fmt.Sprintf("%s %s: %s", m.Check, m.Verdict, m.Detail))
		}
		if r.Score != nil {
			ms = append([]string{"**" + r.Score.String() + "**"}, ms...)
		}
		fmt.Fprintf(b, "| %d | %s | %s |\n", r.Round, r.Verdict, strings.ReplaceAll(strings.Join(ms, "; "), "|", "/"))
	}
}
