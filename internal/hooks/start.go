package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// ReleaseStarter starts releases through the release client, exactly as
// `runbook deploy` does (Resolve, then Deploy with its checks), without a
// signer: a trigger is no person.
//
// Deduplication is durable and lives in Temporal, in two layers:
//
//  1. A delivery record: a HookDelivery workflow with the ID
//     hook/<trigger>/<delivery ID>, started after the release started and
//     never reusable (REJECT_DUPLICATE). A replayed delivery finds it and
//     starts nothing. It is written after the release starts, not before,
//     so a delivery whose start was refused (environment busy, bad runbook)
//     can be redelivered once that is fixed. The release ID cannot carry
//     the delivery instead: release/<svc>/<version> is what every command
//     and person reads, and several deliveries map to one version.
//  2. The release ID itself: Temporal allows one release/<svc>/<version>
//     that has not failed, so two copies of a delivery arriving together
//     (both before the record exists) start one release; the other is
//     refused by Deploy. It also guards a delivery replayed after the
//     namespace's retention dropped its record.
type ReleaseStarter struct {
	Releases *releases.Client
}

// DeliveryRecordID is the workflow ID of the record of delivery id of the
// trigger named trigger.
func DeliveryRecordID(trigger, id string) string {
	return "hook/" + trigger + "/" + id
}

// Start starts the release t maps e to, unless the delivery was seen.
func (s *ReleaseStarter) Start(ctx context.Context, t *Trigger, e Event) (Result, error) {
	recordID := DeliveryRecordID(t.Name, e.DeliveryID)
	seen, err := s.seen(ctx, recordID)
	if err != nil || seen {
		return Result{Duplicate: seen}, err
	}
	in, err := t.releaseInput(e)
	if err != nil {
		return Result{}, err
	}
	run, err := s.Releases.Deploy(ctx, in)
	if err != nil {
		return Result{}, err
	}
	id := workflows.ReleaseID(in.Runbook.Service, in.Version)
	s.record(ctx, recordID, workflows.DeliveryRecord{Trigger: t.Name, Source: e.Source, DeliveryID: e.DeliveryID, ReleaseID: id, RunID: run.GetRunID()})
	return Result{ReleaseID: id}, nil
}

// seen reports whether the delivery's record exists, in any state.
func (s *ReleaseStarter) seen(ctx context.Context, recordID string) (bool, error) {
	_, err := s.Releases.Temporal.DescribeWorkflow(ctx, recordID, "")
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &nf):
		return false, nil
	}
	return false, fmt.Errorf("look up delivery record %s: %w", recordID, err)
}

// record writes the delivery record. A failure is logged, not returned: the
// release did start, and the release ID still refuses a replay of it.
func (s *ReleaseStarter) record(ctx context.Context, recordID string, rec workflows.DeliveryRecord) {
	_, err := s.Releases.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       recordID,
		TaskQueue:                s.Releases.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:            fmt.Sprintf("webhook delivery %s of trigger %s started %s", rec.DeliveryID, rec.Trigger, rec.ReleaseID),
	}, workflows.HookDeliveryWorkflowName, rec)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		slog.Error("hooks: delivery record not written; a replay is refused by the release ID only", "record", recordID, "error", err)
	}
}

// releaseInput loads the runbook again (it may have changed since the
// worker started) and resolves it as `runbook deploy` would.
func (t *Trigger) releaseInput(e Event) (workflows.ReleaseInput, error) {
	rb, err := t.LoadRunbook()
	if err != nil {
		return workflows.ReleaseInput{}, err
	}
	version := e.Tag
	if t.Version == VersionStripV {
		version = strings.TrimPrefix(version, "v")
	}
	digest, err := t.digest(rb, e, version)
	if err != nil {
		return workflows.ReleaseInput{}, err
	}
	in, err := releases.Resolve(releases.ResolveInput{Path: t.Runbook, Runbook: rb, Version: version, Digest: digest, Requester: "trigger:" + t.Name})
	if err != nil {
		return workflows.ReleaseInput{}, err
	}
	in.Trigger = &workflows.Trigger{Kind: "webhook", Source: e.Source + " " + e.Repository, ID: e.DeliveryID, Detail: e.Detail()}
	return in, nil
}

// digest is the digest to pin: the event's (oci), the local file's
// (computed now, as `sha256sum` would before `runbook deploy --digest`), or
// none, so Resolve takes the runbook's.
func (t *Trigger) digest(rb *runbooks.Runbook, e Event, version string) (string, error) {
	mode := t.Digest
	if mode == "" {
		mode = DigestFile
		if rb.Artifact.Digest != "" {
			mode = DigestRunbook
		}
	}
	switch mode {
	case DigestEvent:
		if e.Digest == "" {
			return "", fmt.Errorf("the push of %s carries no digest", e.Tag)
		}
		return e.Digest, nil
	case DigestFile:
		return t.fileDigest(rb, version)
	}
	return "", nil
}

// fileDigest hashes the artifact file the runbook names for version.
func (t *Trigger) fileDigest(rb *runbooks.Runbook, version string) (string, error) {
	ref := runbooks.Expand(rb.Artifact.Reference, map[string]string{"version": version, "service": rb.Service})
	p := ref
	if u, err := url.Parse(ref); err == nil && u.Scheme != "" {
		if !strings.EqualFold(u.Scheme, "file") {
			return "", fmt.Errorf("digest: file needs a local artifact, and %s is a %s URL; set artifact.digest or use digest: %s", ref, u.Scheme, DigestRunbook)
		}
		p = u.Path
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(t.Runbook), p)
	}
	d, err := artifact.FileDigest(p)
	if err != nil {
		return "", fmt.Errorf("digest of the artifact for %s: %w", version, err)
	}
	return d, nil
}
