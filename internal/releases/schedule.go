package releases

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/artifact/oci"
	"github.com/runbookhq/runbook/activities/versions"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// ScheduleCatchupWindow is how late a missed firing may still run: a worker
// or server outage must not fire a burst of releases when it ends.
const ScheduleCatchupWindow = time.Minute

// DefaultScheduleID is a service's release schedule unless --id names another.
func DefaultScheduleID(service string) string { return "scheduled-release/" + service }

// ScheduleRequest is a release schedule to create.
type ScheduleRequest struct {
	ID, Cron, VersionFrom string
	Path                  string
	Runbook               *runbooks.Runbook
}

// ScheduledInputFor resolves a runbook for a schedule like Resolve does for
// a release, except what depends on the version, which the schedule reads
// when it fires. It refuses what a schedule cannot do honestly.
func ScheduledInputFor(req ScheduleRequest) (workflows.ScheduledReleaseInput, error) {
	rb := *req.Runbook
	if err := schedulable(req.Path, &rb); err != nil {
		return workflows.ScheduledReleaseInput{}, err
	}
	from, err := versionSource(req.VersionFrom, rb.Artifact.Reference)
	if err != nil {
		return workflows.ScheduledReleaseInput{}, err
	}
	dir := filepath.Dir(req.Path)
	// The version stays a placeholder, filled in at firing
	// (workflows.ExpandArtifact); ${artifact} in the signature and report
	// becomes the artifact's absolute reference, version still open.
	vars := map[string]string{"version": "${version}", "service": rb.Service}
	if rb.Artifact.Reference, err = resolveReference(runbooks.Expand(rb.Artifact.Reference, vars), dir); err != nil {
		return workflows.ScheduledReleaseInput{}, err
	}
	vars["artifact"] = rb.Artifact.Reference
	if rb.Artifact, err = resolveTrust(rb.Artifact, vars, dir); err != nil {
		return workflows.ScheduledReleaseInput{}, err
	}
	if rb.Environments, err = resolveModules(rb.Environments, dir); err != nil {
		return workflows.ScheduledReleaseInput{}, err
	}
	if rb.Environments, err = resolveDatabases(rb.Environments, dir); err != nil {
		return workflows.ScheduledReleaseInput{}, err
	}
	abs, _ := filepath.Abs(req.Path)
	return workflows.ScheduledReleaseInput{
		ScheduleID: req.ID, Runbook: rb, RunbookFile: abs, VersionFrom: from,
		Requester: workflows.ScheduleRequester(req.ID),
	}, nil
}

// schedulable refuses a runbook a schedule cannot release: no one signs
// when a schedule fires, so every environment must take unsigned
// decisions, and a pinned digest would pin one version forever.
func schedulable(path string, rb *runbooks.Runbook) error {
	for i := range rb.Environments {
		e := &rb.Environments[i]
		if rb.Policy.IdentityMode(e) == runbooks.IdentitySigned {
			return fmt.Errorf("environment %s of %s needs signed decisions (identity: signed, the default for production), "+
				"and no one signs when a schedule fires: schedule a runbook whose environments all say identity: unsigned "+
				"(e.g. a staging-only runbook), and release to production with `runbook deploy`", e.Name, path)
		}
	}
	if rb.Artifact.Digest != "" {
		return fmt.Errorf("%s pins artifact.digest, so every release would ship that one artifact; remove it: a schedule takes the digest when it fires", path)
	}
	return nil
}

// versionSource checks --version-from and makes a file path absolute.
func versionSource(from, artifactRef string) (string, error) {
	if oci.IsReference(from) {
		ref, err := oci.ParseReference(from)
		if err != nil {
			return "", fmt.Errorf("--version-from: %w", err)
		}
		if ref.Digest != "" {
			return "", fmt.Errorf("--version-from %s pins a digest, so it never changes; name a tag such as :stable", from)
		}
		if !oci.IsReference(artifactRef) {
			return "", fmt.Errorf("--version-from %s is an image, but artifact.reference %s is not oci://: the release would ship something else", from, artifactRef)
		}
		return from, nil
	}
	if from == "" {
		return "", fmt.Errorf("--version-from is empty: give oci://HOST/REPO:TAG or a version file")
	}
	if !strings.HasPrefix(from, "file://") && !filepath.IsAbs(from) {
		abs, err := filepath.Abs(from)
		if err != nil {
			return "", err
		}
		from = abs
	}
	if _, err := versions.FilePath(from); err != nil {
		return "", fmt.Errorf("--version-from: %w", err)
	}
	return from, nil
}

// CreateSchedule creates the schedule that starts a ScheduledRelease at
// every cron time. Firings never overlap, and missed ones older than the
// catch-up window are dropped.
// createdBy, the person who asked, is kept in the schedule's memo.
func (c *Client) CreateSchedule(ctx context.Context, cron, createdBy string, in workflows.ScheduledReleaseInput) error {
	if in.UIURL == "" {
		in.UIURL = c.UIURL
	}
	_, err := c.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   in.ScheduleID,
		Spec: client.ScheduleSpec{CronExpressions: []string{cron}},
		Action: &client.ScheduleWorkflowAction{
			ID: in.ScheduleID, Workflow: workflows.ScheduledReleaseWorkflowName, Args: []any{in}, TaskQueue: c.TaskQueue,
			TypedSearchAttributes: workflows.ScheduledAttrs(in.Runbook.Service),
		},
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: ScheduleCatchupWindow,
		Memo:          map[string]any{memoRunbook: in.RunbookFile, memoVersionFrom: in.VersionFrom, memoCron: cron, memoCreatedBy: createdBy},
	})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("schedule %s already exists: delete it first (`runbook schedule delete %s`) or pass another --id", in.ScheduleID, in.ScheduleID)
	}
	if err != nil {
		return fmt.Errorf("create schedule %s: %w", in.ScheduleID, err)
	}
	return nil
}

// Memo keys of a release schedule.
const (
	memoRunbook     = "runbook"
	memoVersionFrom = "version-from"
	memoCron        = "cron"
	memoCreatedBy   = "created-by"
)

// ReleaseSchedule is one release schedule as `runbook schedule list` shows it.
type ReleaseSchedule struct {
	ID          string    `json:"id"`
	Cron        string    `json:"cron"`
	Runbook     string    `json:"runbook"`
	VersionFrom string    `json:"version-from"`
	CreatedBy   string    `json:"created-by"`
	Paused      bool      `json:"paused,omitempty"`
	Next        time.Time `json:"next,omitzero"`
}

// ListSchedules lists the release schedules (not drift schedules).
func (c *Client) ListSchedules(ctx context.Context) ([]ReleaseSchedule, error) {
	it, err := c.Temporal.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 100})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out := []ReleaseSchedule{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		if e.WorkflowType.Name != workflows.ScheduledReleaseWorkflowName {
			continue
		}
		s := ReleaseSchedule{ID: e.ID, Paused: e.Paused}
		if len(e.NextActionTimes) > 0 {
			s.Next = e.NextActionTimes[0]
		}
		fields := e.Memo.GetFields()
		for key, dst := range map[string]*string{memoRunbook: &s.Runbook, memoVersionFrom: &s.VersionFrom, memoCron: &s.Cron, memoCreatedBy: &s.CreatedBy} {
			if p := fields[key]; p != nil {
				_ = c.dataConverter().FromPayload(p, dst)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// DeleteSchedule deletes a release schedule; releases it started go on.
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	if err := c.isReleaseSchedule(ctx, id); err != nil {
		return err
	}
	return c.Temporal.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
}

// isReleaseSchedule refuses IDs of missing schedules and of schedules that
// start something else (a drift schedule is `runbook drift disable`'s).
func (c *Client) isReleaseSchedule(ctx context.Context, id string) error {
	d, err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("no schedule %s: list them with `runbook schedule list`", id)
	}
	if err != nil {
		return fmt.Errorf("schedule %s: %w", id, err)
	}
	if a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); !ok || a.Workflow != workflows.ScheduledReleaseWorkflowName {
		return fmt.Errorf("schedule %s does not start releases; it is not runbook schedule's to change", id)
	}
	return nil
}
