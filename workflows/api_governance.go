package workflows

import (
	"strings"
	"time"
)

// BreakGlassRequest marks an emergency release: at a closed release window
// or a freeze it asks the runbook's break-glass approvers instead of
// waiting, and passes once they approved. Everything it does is flagged.
type BreakGlassRequest struct {
	Reason string `json:"reason"`
}

// BuildInfo is the build metadata that travels with a release into status,
// the Web UI, Slack and the audit log: traceability from commit to
// production, and the commit time DORA's lead time starts from.
type BuildInfo struct {
	Commit     string    `json:"commit,omitempty"`
	CommitTime time.Time `json:"commit-time,omitzero"`
	BuildTime  time.Time `json:"build-time,omitzero"`
	Team       string    `json:"team,omitempty"`
	Repository string    `json:"repository,omitempty"`
	// CommitRange, Commits and ChangedLines size the change (deploy
	// --commit-range): a large change raises the risk level.
	CommitRange  string `json:"commit-range,omitempty"`
	Commits      int    `json:"commits,omitempty"`
	ChangedLines int    `json:"changed-lines,omitempty"`
}

// String is the one-line form: "commit abc1234 (2026-11-25T10:00:00Z) by team-x".
func (b *BuildInfo) String() string {
	if b == nil {
		return ""
	}
	var parts []string
	if b.Commit != "" {
		c := "commit " + b.Commit
		if b.Repository != "" {
			c = b.Repository + "@" + b.Commit
		}
		parts = append(parts, c)
	}
	if !b.CommitTime.IsZero() {
		parts = append(parts, "committed "+b.CommitTime.UTC().Format(time.RFC3339))
	}
	if !b.BuildTime.IsZero() {
		parts = append(parts, "built "+b.BuildTime.UTC().Format(time.RFC3339))
	}
	if b.Team != "" {
		parts = append(parts, "by "+b.Team)
	}
	return strings.Join(parts, ", ")
}
