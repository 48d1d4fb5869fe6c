package releases

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestListFilterQuery(t *testing.T) {
	cases := []struct {
		name string
		f    ListFilter
		want string
	}{
		{"no filter lists releases", ListFilter{}, "WorkflowType = 'Release'"},
		{"limit is not part of the query", ListFilter{Limit: 5}, "WorkflowType = 'Release'"},
		{"service", ListFilter{Service: "checkout"},
			"WorkflowType = 'Release' AND RunbookService = 'checkout'"},
		{"status", ListFilter{Status: "rolled-back"},
			"WorkflowType = 'Release' AND RunbookStatus = 'rolled-back'"},
		// An environment filter lists the environment workflows, which carry
		// the RunbookEnvironment attribute for their whole life.
		{"environment switches to environment workflows", ListFilter{Environment: "production"},
			"WorkflowType = 'Environment' AND RunbookEnvironment = 'production'"},
		{"governance: high-risk emergency releases", ListFilter{Risk: "high", BreakGlass: true},
			"WorkflowType = 'Release' AND RunbookRisk = 'high' AND RunbookBreakGlass = 'true'"},
		{"all three, in a fixed order", ListFilter{Status: "paused", Environment: "eu-west.1", Service: "checkout_v2+x"},
			"WorkflowType = 'Environment' AND RunbookService = 'checkout_v2+x' AND RunbookEnvironment = 'eu-west.1' AND RunbookStatus = 'paused'"},
		{"since, in UTC", ListFilter{Service: "checkout", Since: time.Date(2026, 9, 8, 12, 0, 0, 0, time.FixedZone("CEST", 7200))},
			"WorkflowType = 'Release' AND RunbookService = 'checkout' AND StartTime >= '2026-09-08T10:00:00Z'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.f.Query()
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if got != c.want {
				t.Errorf("Query() = %q\nwant      %q", got, c.want)
			}
		})
	}
}

// TestListFilterQueryRefusesUnsafeValues: values go into a visibility query
// between single quotes, so anything that could close the quote or change
// the query is refused, naming the value and what is allowed.
func TestListFilterQueryRefusesUnsafeValues(t *testing.T) {
	unsafe := []string{
		"check'out",
		"x' OR WorkflowType = 'Environment",
		`a\'`,
		"two words",
		"a\"b",
		"a=b",
		"(x)",
		"new\nline",
		"%",
		"é",
		"a;b",
	}
	for _, v := range unsafe {
		for _, f := range []ListFilter{{Service: v}, {Environment: v}, {Status: v}, {Service: "ok", Status: v}} {
			q, err := f.Query()
			if err == nil {
				t.Errorf("filter %+v built the query %q; want a refusal", f, q)
				continue
			}
			if q != "" {
				t.Errorf("filter %+v: refused but still returned the query %q", f, q)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprintf("%q", v)) || !strings.Contains(msg, "letters, digits and . _ + -") {
				t.Errorf("filter %+v: message %q should name the value and say what is allowed", f, msg)
			}
		}
	}
}
