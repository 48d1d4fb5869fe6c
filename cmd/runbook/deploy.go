package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/statusview"
	"github.com/runbookhq/runbook/workflows"
)

// deployCmd is `runbook deploy`.
type deployCmd struct {
	a                     *app
	version, digest, as   string
	output                outputFlag
	wait                  bool
	breakGlass            bool
	reason                string
	build                 workflows.BuildInfo
	commitTime, buildTime string
}

func newDeployCmd(a *app) *cobra.Command {
	v := &deployCmd{a: a}
	cmd := &cobra.Command{
		Use:   "deploy RUNBOOK --version V",
		Short: "Validate a runbook and start a release of version V",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVar(&v.version, "version", "", "version to release (required)")
	cmd.Flags().StringVar(&v.digest, "digest", "", "artifact digest sha256:<hex> (when the runbook has none)")
	cmd.Flags().StringVar(&v.as, "as", defaultActor(), "who requests the release")
	cmd.Flags().BoolVar(&v.wait, "wait", false, "follow the release until it ends; exit non-zero unless it succeeded")
	v.output.register(cmd.Flags())
	cmd.Flags().BoolVar(&v.breakGlass, "break-glass", false, "emergency release: may pass a closed window or a freeze once the runbook's break-glass group approves (needs --reason)")
	cmd.Flags().StringVar(&v.reason, "reason", "", "why this is an emergency (with --break-glass)")
	cmd.Flags().StringVar(&v.build.Commit, "commit", "", "source commit of the artifact (build metadata; $RUNBOOK_COMMIT)")
	cmd.Flags().StringVar(&v.commitTime, "commit-time", "", "commit time, RFC 3339: DORA lead time starts here ($RUNBOOK_COMMIT_TIME)")
	cmd.Flags().StringVar(&v.buildTime, "build-time", "", "build time, RFC 3339 ($RUNBOOK_BUILD_TIME)")
	cmd.Flags().StringVar(&v.build.Team, "team", "", "team that built it ($RUNBOOK_TEAM)")
	cmd.Flags().StringVar(&v.build.Repository, "repository", "", "source repository ($RUNBOOK_REPOSITORY)")
	cmd.Flags().StringVar(&v.build.CommitRange, "commit-range", "", "the change since the last release, e.g. v1.4.1..HEAD: git in the current directory counts its commits and changed lines (a large change raises the risk)")
	cmd.Flags().IntVar(&v.build.ChangedLines, "changed-lines", 0, "size of the change in lines, when git cannot tell (instead of counting --commit-range)")
	_ = cmd.MarkFlagRequired("version")
	return cmd
}

func (v *deployCmd) run(ctx context.Context, path string) error {
	rb, err := loadRunbook(path)
	if err != nil {
		return err
	}
	ri := releases.ResolveInput{Path: path, Runbook: rb, Version: v.version, Digest: v.digest, Requester: v.as}
	if ri.Build, err = v.buildInfo(); err != nil {
		return err
	}
	if v.breakGlass {
		if strings.TrimSpace(v.reason) == "" {
			return fmt.Errorf("--break-glass needs --reason: say what the emergency is (it goes to the approvers and the audit log)")
		}
		ri.BreakGlassReason = v.reason
	} else if v.reason != "" {
		return fmt.Errorf("--reason is for --break-glass; add --break-glass or drop --reason")
	}
	in, err := releases.Resolve(ri)
	if err != nil {
		return err
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error { return v.start(ctx, rc, in) })
}

// start starts the release and, with --wait, follows it to its end.
func (v *deployCmd) start(ctx context.Context, rc *releases.Client, in workflows.ReleaseInput) error {
	run, err := rc.Deploy(ctx, in)
	if err != nil {
		return err
	}
	return v.a.started(ctx, rc, run, v.wait, v.output, nil, "started "+run.GetID())
}

// started says a release started (a line, or with -o json its IDs and
// fields) and, with wait, follows it to its end: exit 0 only when it
// succeeded.
func (a *app) started(ctx context.Context, rc *releases.Client, run client.WorkflowRun, wait bool, output outputFlag, fields map[string]string, line string) error {
	link := rc.Link(run.GetID(), run.GetRunID())
	if output.json() && !wait {
		out := map[string]string{"release-id": run.GetID(), "run-id": run.GetRunID(), "link": link}
		maps.Copy(out, fields)
		return output.encode(a.out, out)
	}
	fmt.Fprintf(a.out, "%s\n  %s\n", line, link)
	if !wait {
		return nil
	}
	st, err := statusview.NewFollower(a.out).Follow(ctx, rc, run.GetID())
	if err != nil {
		return err
	}
	if output.json() {
		_ = output.encode(a.out, st)
	}
	return outcome(st)
}

// buildInfo collects the build metadata from the flags, falling back to
// the RUNBOOK_* variables a CI job sets; nil when there is none.
func (v *deployCmd) buildInfo() (*workflows.BuildInfo, error) {
	b := v.build
	b.Commit = orEnv(b.Commit, "RUNBOOK_COMMIT")
	b.Team = orEnv(b.Team, "RUNBOOK_TEAM")
	b.Repository = orEnv(b.Repository, "RUNBOOK_REPOSITORY")
	var err error
	if b.CommitTime, err = rfc3339("--commit-time", orEnv(v.commitTime, "RUNBOOK_COMMIT_TIME")); err != nil {
		return nil, err
	}
	if b.BuildTime, err = rfc3339("--build-time", orEnv(v.buildTime, "RUNBOOK_BUILD_TIME")); err != nil {
		return nil, err
	}
	if b.CommitRange != "" && b.ChangedLines == 0 {
		if b.Commits, b.ChangedLines, err = gitChangeSize(b.CommitRange); err != nil {
			return nil, err
		}
	}
	if b == (workflows.BuildInfo{}) {
		return nil, nil
	}
	return &b, nil
}

// gitChangeSize counts the commits and changed lines (insertions plus
// deletions) of a commit range in the repository of the current directory.
func gitChangeSize(rng string) (commits, lines int, err error) {
	if strings.HasPrefix(rng, "-") || !strings.Contains(rng, "..") {
		return 0, 0, fmt.Errorf("--commit-range %q: write FROM..TO, e.g. v1.4.1..HEAD", rng)
	}
	count, err := exec.Command("git", "rev-list", "--count", rng).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("--commit-range %s: git rev-list failed (%v); run in the repository or pass --changed-lines", rng, gitErr(err))
	}
	if commits, err = strconv.Atoi(strings.TrimSpace(string(count))); err != nil {
		return 0, 0, fmt.Errorf("--commit-range %s: git rev-list printed %q", rng, count)
	}
	stat, err := exec.Command("git", "diff", "--shortstat", rng).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("--commit-range %s: git diff failed (%v); pass --changed-lines instead", rng, gitErr(err))
	}
	for _, m := range shortstatRE.FindAllStringSubmatch(string(stat), -1) {
		n, _ := strconv.Atoi(m[1])
		lines += n
	}
	return commits, lines, nil
}

var shortstatRE = regexp.MustCompile(`(\d+) (?:insertion|deletion)`)

// gitErr is git's own complaint when it wrote one.
func gitErr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return err.Error()
}

// orEnv is v, or else the value of the environment variable name.
func orEnv(v, name string) string {
	if v != "" {
		return v
	}
	return os.Getenv(name)
}

// rfc3339 parses s, the value of flag, in UTC; empty is the zero time.
func rfc3339(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not RFC 3339; use e.g. 2026-11-25T10:00:00Z (git log -1 --format=%%cI prints it)", flag, s)
	}
	return t.UTC(), nil
}
