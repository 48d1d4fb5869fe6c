package worker

import (
	"os"
	"runtime/debug"
	"testing"
)

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

func TestGrpcCompression(t *testing.T) {
	for _, tc := range []struct {
		value, hostPort string
		none, ok        bool
	}{
		{"", "temporal.example.com:7233", false, true},
		{"", "127.0.0.1:7233", true, true},
		{"", "localhost:7233", true, true},
		{"", "[::1]:7233", true, true},
		{"gzip", "127.0.0.1:7233", false, true},
		{"none", "temporal.example.com:7233", true, true},
		{"zstd", "127.0.0.1:7233", false, false},
	} {
		c, err := grpcCompression(tc.value, tc.hostPort)
		if (err == nil) != tc.ok || (c != nil) != tc.none {
			t.Errorf("%s=%q for %s: compression %v, error %v; want none %v, ok %v", EnvCompression, tc.value, tc.hostPort, c, err, tc.none, tc.ok)
		}
	}
}

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "80")
	debug.SetGCPercent(80)
	tuneGC()
	if got := debug.SetGCPercent(80); got != 80 {
		t.Errorf("GOGC=80 set: the worker changed it to %d", got)
	}
	os.Unsetenv("GOGC")
	tuneGC()
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, defaultGCPercent)
	}
}
