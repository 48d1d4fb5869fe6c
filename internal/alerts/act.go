package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	goslack "github.com/slack-go/slack"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/dora"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// Actor is who the worker acts as on an alert's behalf, in controls,
// rollbacks and the audit; the reason names the alert. It is what the
// signing key signs as (Config.SigningKey).
const Actor = "runbook:alerts"

// RecordID is the workflow ID of the record of an alert's firing: the
// fingerprint names the alert, startsAt its firing, so Alertmanager's
// repeats (every repeat_interval) find it and act no second time, while
// the same alert firing again later is a new firing.
func RecordID(a Alert) string {
	return fmt.Sprintf("alert/%s/%d", a.Fingerprint, a.StartsAt.UTC().UnixNano())
}

// Acter acts on alerts through the release client and writes the audit.
type Acter struct {
	Releases *releases.Client
	Audit    audit.Store
	// Slack, when set, posts a note of each alert acted on to the
	// environment's channel.
	Slack *goslack.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (x *Acter) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

// outcome is what one alert led to, for the answer and the audit.
type outcome struct {
	action, release, detail string
	duplicate               bool
}

// firing handles one firing alert mapped to service and env.
func (x *Acter) firing(ctx context.Context, m Message, a Alert, service, env, sev string) (outcome, error) {
	recID := RecordID(a)
	if seen, err := x.seen(ctx, recID); err != nil || seen {
		return outcome{duplicate: seen, detail: "seen before (" + recID + ")"}, err
	}
	t, ok, err := findTarget(ctx, x.Releases, service, env)
	if err != nil {
		return outcome{}, err
	}
	if !ok {
		o := outcome{action: runbooks.AlertNotify, detail: fmt.Sprintf("no release of %s ever ran in %s", service, env)}
		return o, x.audit(ctx, m, a, Target{Service: service, Environment: env}, sev, o)
	}
	if m.release != "" && t.ReleaseID != m.release {
		// A watch speaks for its own release only: a newer one running
		// there (its watch not started yet) is not the one that failed.
		o := outcome{action: runbooks.AlertNotify, release: t.ReleaseID, detail: fmt.Sprintf("the watch is of %s, but the release there now is %s: not acted on", m.release, t.ReleaseID)}
		return o, x.audit(ctx, m, a, t, sev, o)
	}
	action, why := decide(x.now(), sev, t)
	o := outcome{action: action, release: t.ReleaseID, detail: why}
	switch action {
	case actAbort:
		err = x.control(ctx, t, workflows.UpdateAbort, m, a)
	case runbooks.AlertPause:
		err = x.control(ctx, t, workflows.UpdatePause, m, a)
	case actRollbackStart:
		var id string
		id, err = x.rollback(ctx, m, a, t)
		o.detail += "; started " + id
	}
	if err != nil {
		// Refused (a signed environment, a busy one, nothing to put
		// back): audited, and not recorded, so a repeat tries again.
		o.action, o.detail = "refused", fmt.Sprintf("%s: %v", why, err)
		x.note(ctx, a, t, sev, o)
		return o, x.audit(ctx, m, a, t, sev, o)
	}
	if err := x.audit(ctx, m, a, t, sev, o); err != nil {
		return o, err
	}
	x.note(ctx, a, t, sev, o)
	x.record(ctx, recID, a, o)
	return o, nil
}

// reason is the text a control or rollback carries: the alert, its
// fingerprint and links, and the mark DORA reads the firing time from.
func reason(m Message, a Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "alert %s (fingerprint %s)", a.Name(), a.Fingerprint)
	if s := a.Annotations["summary"]; s != "" {
		fmt.Fprintf(&b, ": %s", s)
	}
	if a.GeneratorURL != "" {
		fmt.Fprintf(&b, "; source %s", a.GeneratorURL)
	}
	if m.ExternalURL != "" {
		fmt.Fprintf(&b, "; alertmanager %s", m.ExternalURL)
	}
	b.WriteString(" " + dora.AlertMark(a.StartsAt))
	return b.String()
}

// control pauses or aborts the running release in t's environment.
func (x *Acter) control(ctx context.Context, t Target, update string, m Message, a Alert) error {
	_, err := x.Releases.Control(ctx, t.ReleaseID+"@"+t.Environment, update, workflows.ControlInput{Actor: Actor, Reason: reason(m, a)})
	return err
}

// rollback starts the one-command rollback of the finished release t,
// exactly as `runbook rollback` would, with the alert as its trigger.
func (x *Acter) rollback(ctx context.Context, m Message, a Alert, t Target) (string, error) {
	r := reason(m, a)
	plan, err := x.Releases.PlanRollback(ctx, releases.RollbackOptions{Service: t.Service, Environment: t.Environment, Reason: r, Requester: Actor})
	if err != nil {
		return "", err
	}
	if plan.Current.ReleaseID != t.ReleaseID {
		return "", fmt.Errorf("the live release is %s, not %s: the environment changed meanwhile", plan.Current.ReleaseID, t.ReleaseID)
	}
	plan.Input.Trigger = &workflows.Trigger{Kind: dora.TriggerAlert, Source: m.sourceName(), ID: a.Fingerprint, Detail: r}
	run, err := x.Releases.StartRollback(ctx, plan)
	if err != nil {
		return "", err
	}
	return run.GetID(), nil
}

// audit appends the alert's entry; its ID makes a repeat write nothing.
func (x *Acter) audit(ctx context.Context, m Message, a Alert, t Target, sev string, o outcome) error {
	if x.Audit == nil {
		return nil
	}
	_, err := x.Audit.Append(ctx, audit.Entry{
		ID: RecordID(a) + "/" + a.Status + "/" + o.action, Time: x.now(), Actor: Actor, Action: "alert." + o.action,
		Release: t.ReleaseID, Service: t.Service, Environment: t.Environment, Version: t.Version,
		Outcome: a.Status, Channel: m.channelName(),
		Detail: fmt.Sprintf("%s, severity %q, fired %s: %s", reason(m, a), sev, a.StartsAt.UTC().Format(time.RFC3339), o.detail),
	})
	if err != nil {
		return fmt.Errorf("audit alert %s: %w", a.Fingerprint, err)
	}
	return nil
}

// seen reports whether the firing's record exists, in any state.
func (x *Acter) seen(ctx context.Context, id string) (bool, error) {
	_, err := x.Releases.Temporal.DescribeWorkflow(ctx, id, "")
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &nf):
		return false, nil
	}
	return false, fmt.Errorf("look up alert record %s: %w", id, err)
}

// record writes the firing's record after acting (as internal/hooks does),
// so a firing whose action was refused is tried again on the next repeat.
// Two copies arriving together are stopped by the workflows themselves:
// a second abort or pause is refused by the validator, a second rollback
// by PlanRollback seeing the first one running.
func (x *Acter) record(ctx context.Context, id string, a Alert, o outcome) {
	rec := workflows.DeliveryRecord{Trigger: Actor, Source: "alert " + a.Name(), DeliveryID: a.Fingerprint, ReleaseID: o.release}
	_, err := x.Releases.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: x.Releases.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:            fmt.Sprintf("alert %s (%s) firing since %s: %s %s", a.Name(), a.Fingerprint, a.StartsAt.UTC().Format(time.RFC3339), o.action, o.release),
	}, workflows.HookDeliveryWorkflowName, rec)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		slog.Error("alerts: record not written; a repeat of this alert may act again", "record", id, "error", err)
	}
}
