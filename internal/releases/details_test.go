package releases

import (
	"strings"
	"testing"

	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// TestDetailsNameTheReport: the Web UI's details say how to render the
// report, and link it when the client could sign a link.
func TestDetailsNameTheReport(t *testing.T) {
	in := workflows.ReleaseInput{Version: "1.4.2", Runbook: runbooks.Runbook{Service: "checkout", Environments: []runbooks.Environment{{Name: "production"}}}}
	id := "release/checkout/1.4.2"
	plain := detailsOf(id, in, "")
	if !strings.Contains(plain, "report: `runbook report "+id+"`") || strings.Contains(plain, "open the report") {
		t.Errorf("without a link the details are:\n%s", plain)
	}
	c := &Client{ReportLink: func(id string) string { return "https://w/reports/release/" + id + "?exp=1&sig=(x)" }}
	linked := detailsOf(id, in, c.reportLink(id))
	if !strings.Contains(linked, "[open the report](https://w/reports/release/release/checkout/1.4.2?exp=1&sig=%28x%29)") {
		t.Errorf("with a link the details are:\n%s", linked)
	}
	if tr := trainDetails("train/shop/w1", ""); !strings.Contains(tr, "report: `runbook report train/shop/w1`") || !strings.Contains(tr, "runbook train status") {
		t.Errorf("train details:\n%s", tr)
	}
}
