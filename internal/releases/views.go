package releases

import (
	"net/url"
	"strings"

	"github.com/runbookhq/runbook/workflows"
)

// View is a saved query of the Web UI's workflow list.
type View struct {
	Name  string `json:"name"`
	Query string `json:"query"`
	// URL opens the list filtered by Query (when the UI's address is known).
	URL string `json:"url,omitempty"`
}

// Columns are the search attributes worth a column in the Web UI's
// workflow list, in reading order.
func Columns() []string {
	return []string{
		workflows.AttrService.GetName(), workflows.AttrEnvironment.GetName(), workflows.AttrVersion.GetName(),
		workflows.AttrStatus.GetName(), workflows.AttrStep.GetName(), workflows.AttrRisk.GetName(),
		workflows.AttrBreakGlass.GetName(),
	}
}

// Views are the saved queries an on-call SRE starts from. uiURL and
// namespace make each one a link; an empty uiURL leaves the links out.
func Views(uiURL, namespace string) []View {
	release := "WorkflowType = '" + workflows.ReleaseWorkflowName + "'"
	running := release + " AND ExecutionStatus = 'Running'"
	status := workflows.AttrStatus.GetName()
	vs := []View{
		{Name: "releases waiting for a person", Query: running + " AND " + status + " = '" + workflows.StateWaiting + "'"},
		{Name: "releases held (freeze, window, pause)", Query: running + " AND " + status + " IN ('" +
			workflows.StateHeld + "', '" + workflows.StatePaused + "')"},
		{Name: "releases in flight", Query: running},
		{Name: "break-glass releases", Query: release + " AND " + workflows.AttrBreakGlass.GetName() + " = 'true'"},
		{Name: "releases that did not roll back cleanly", Query: release + " AND " + status + " = '" + workflows.StateRollbackIncomplete + "'"},
	}
	if uiURL != "" {
		base := strings.TrimRight(uiURL, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows?query="
		for i := range vs {
			vs[i].URL = base + strings.ReplaceAll(url.QueryEscape(vs[i].Query), "+", "%20")
		}
	}
	return vs
}
