package artifact

import (
	"context"
	"fmt"
	"io"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/artifact/vuln"
)

const (
	// maxReportBytes bounds a report read into memory; SARIF for a large
	// image with every rule described stays well below it.
	maxReportBytes = 128 << 20
	// MaxReportedFindings bounds the findings carried in a result, which
	// Temporal stores in history (and refuses above its blob size limit).
	MaxReportedFindings = 100
	// findingsInMessage is how many findings an ArtifactVulnerable error names.
	findingsInMessage = 5
)

// CheckVulnerabilitiesInput names a scanner report and the most findings
// per severity a release may ship with.
type CheckVulnerabilitiesInput struct {
	// Report is an absolute path, a file:// URL or an http(s):// URL.
	Report string
	// Format is "sarif", "osv" or empty to detect it from the content.
	Format string
	// Max maps a severity (critical, high, medium, low, unknown) to the most
	// findings allowed; a severity not in the map is unlimited.
	Max map[string]int
}

// CheckVulnerabilitiesResult summarises the report.
type CheckVulnerabilitiesResult struct {
	Format string
	Counts vuln.Counts
	// Findings are the most severe MaxReportedFindings findings, most
	// severe first.
	Findings []vuln.Finding
	// Omitted counts the findings left out of Findings.
	Omitted int `json:",omitempty"`
}

// CheckVulnerabilities reads a SARIF or osv-scanner report and fails without
// retry (ArtifactVulnerable, with the result as details) when a severity has
// more findings than Max allows. A malformed report or limit is
// ArtifactInvalid; a report that cannot be fetched yet is retried.
func (a *Activities) CheckVulnerabilities(ctx context.Context, in CheckVulnerabilitiesInput) (CheckVulnerabilitiesResult, error) {
	if err := vuln.ValidateLimits(in.Max); err != nil {
		return CheckVulnerabilitiesResult{}, invalid("vulnerability limits: " + err.Error())
	}
	data, name, err := a.readReport(ctx, in.Report)
	if err != nil {
		return CheckVulnerabilitiesResult{}, err
	}
	rep, err := vuln.Parse(data, in.Format)
	if err != nil {
		return CheckVulnerabilitiesResult{}, invalid(fmt.Sprintf("vulnerability report %s: %v", name, err))
	}
	res := summarize(rep)
	if breaches := rep.Breaches(in.Max); len(breaches) > 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"vulnerability report %s: %s; upgrade the affected packages and rebuild, or raise the limit in the runbook if the risk is accepted",
			name, rep.Describe(breaches, findingsInMessage)), ErrTypeVulnerable, nil, res)
	}
	return res, nil
}

// readReport reads a whole report, heartbeating as it goes.
func (a *Activities) readReport(ctx context.Context, ref string) ([]byte, string, error) {
	src, name, err := a.open(ctx, reportKind, ref)
	if err != nil {
		return nil, name, err
	}
	defer func() { _ = src.Close() }()
	data, err := io.ReadAll(newProgress(ctx, io.LimitReader(src, maxReportBytes+1), activityHeartbeat(ctx)))
	if err != nil {
		return nil, name, readError(ctx, name, err)
	}
	if len(data) > maxReportBytes {
		return nil, name, invalid(fmt.Sprintf("vulnerability report %s is larger than %d MiB; is it a report?", name, maxReportBytes>>20))
	}
	return data, name, nil
}

// summarize keeps the counts and the most severe findings.
func summarize(rep vuln.Report) CheckVulnerabilitiesResult {
	res := CheckVulnerabilitiesResult{Format: rep.Format, Counts: rep.Counts, Findings: rep.Findings}
	if n := len(res.Findings); n > MaxReportedFindings {
		res.Findings, res.Omitted = res.Findings[:MaxReportedFindings], n-MaxReportedFindings
	}
	return res
}
