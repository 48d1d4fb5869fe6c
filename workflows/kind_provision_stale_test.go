package workflows

import (
	"errors"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/terraform"
)

// TestStaleDetail: a plan given up because no worker picked up its apply
// says the host is gone and, from the apply's last heartbeat, which change
// was cut short; a plan OpenTofu refused keeps OpenTofu's sentence.
func TestStaleDetail(t *testing.T) {
	plan := terraform.PlanResult{PlanHash: "0123456789abcdef0123", TaskQueue: "runbook@host-a"}
	cases := []struct {
		name string
		err  error
		want []string
		not  []string
	}{
		{"refused by OpenTofu",
			temporal.NewNonRetryableApplicationError("the saved plan is stale; plan again", terraform.ErrPlanStale, nil),
			[]string{"the saved plan is stale; plan again"}, []string{"host"}},
		{"host gone before the apply started",
			temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil),
			[]string{"no worker on runbook@host-a", "host holding the plan is gone"}, []string{"cut short"}},
		{"host gone mid-apply",
			temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil,
				terraform.Progress{Phase: "apply", Done: 1, Total: 3, Current: "aws_lb.web"}),
			[]string{"no worker on runbook@host-a", "1 of 3 changes done, at aws_lb.web", "cut short"}, nil},
		{"heartbeat timeout is not a gone host",
			temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, errors.New("boom")),
			nil, []string{"no worker on"}},
	}
	for _, c := range cases {
		got := staleDetail(c.err, plan)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q does not say %q", c.name, got, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q should not say %q", c.name, got, n)
			}
		}
	}
}
