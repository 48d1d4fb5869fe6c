package releases

import (
	"fmt"
	"strings"

	"github.com/runbookhq/runbook/workflows"
)

// reportLink is the signed link to id's report, "" without one.
func (c *Client) reportLink(id string) string {
	if c.ReportLink == nil {
		return ""
	}
	return c.ReportLink(id)
}

// detailsOf is what the Web UI shows under the summary: ownership, the
// pinned artifact and where it came from, the commands that steer it and
// how to read its report (report, a signed link, when there is one).
func detailsOf(id string, in workflows.ReleaseInput, report string) string {
	rb := in.Runbook
	s := fmt.Sprintf("owner %s · artifact %s · digest %s", rb.Owner, rb.Artifact.Reference, in.Digest)
	if b := in.Build.String(); b != "" {
		s += " · " + b
	}
	if in.BreakGlass != nil {
		s += " · BREAK-GLASS: " + in.BreakGlass.Reason
	}
	ids := make([]string, len(in.Runbook.Environments))
	for i, e := range in.Runbook.Environments {
		ids[i] = workflows.EnvironmentID(in.Runbook.Service, e.Name)
	}
	if r := in.Rollback; r != nil {
		s += " · " + r.Describe(in.Version)
	}
	// The details are Markdown in the Web UI: the link opens the page.
	s += "\n\nreport: `runbook report " + id + "`"
	if report != "" {
		s += " · [open the report](" + markdownURL(report) + ") (the link opens it for a week)"
	}
	return s + "\n\n" + workflows.UpdateHelp(id, ids)
}

// markdownURL keeps a URL whole inside a Markdown link.
func markdownURL(u string) string {
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(u)
}
