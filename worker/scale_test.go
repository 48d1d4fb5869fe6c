package worker

import "testing"

func TestPollerBehavior(t *testing.T) {
	for _, tc := range []struct {
		value   string
		set, ok bool
	}{
		{"", false, true},
		{"auto", true, true},
		{"8", true, true},
		{"1", false, false}, // the SDK panics on one workflow poller
		{"many", false, false},
	} {
		t.Setenv(EnvWorkflowPollers, tc.value)
		b, err := pollerBehavior(EnvWorkflowPollers)
		if (err == nil) != tc.ok || (b != nil) != tc.set {
			t.Errorf("%s=%q: behavior %v, error %v; want set %v, ok %v", EnvWorkflowPollers, tc.value, b, err, tc.set, tc.ok)
		}
	}
}
