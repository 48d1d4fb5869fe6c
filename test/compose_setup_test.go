package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeSetupFile is the part of `docker-compose config` that the
// namespace's one-shot set-up is read from.
type composeSetupFile struct {
	Services map[string]struct {
		Image       string               `yaml:"image"`
		Restart     string               `yaml:"restart"`
		Entrypoint  []string             `yaml:"entrypoint"`
		Environment yaml.Node            `yaml:"environment"`
		Volumes     []yaml.Node          `yaml:"volumes"`
		DependsOn   map[string]yaml.Node `yaml:"depends_on"`
	} `yaml:"services"`
}

// TestComposeTemporalSetup asserts that the team set-up sets the namespace's
// retention (90 days unless RUNBOOK_RETENTION says otherwise, for the
// namespace auto-setup creates and, on every start, for one made before)
// and registers the search attributes with deploy/temporal/setup.sh, in a
// pinned image, before the worker starts. TestDoctorE2E runs that script
// against a dev server.
func TestComposeTemporalSetup(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		// CI installs docker-compose (`make deps`), so a missing one fails there.
		if os.Getenv("CI") != "" {
			t.Fatalf("docker-compose not found on PATH in CI: run `make deps` (Debian package docker-compose)")
		}
		t.Skip("docker-compose not found on PATH; `make deps` installs it")
	}
	file := filepath.Join(moduleRoot(t), "docker-compose.yml")
	for _, tc := range []struct{ env, want string }{{"", "90d"}, {"RUNBOOK_RETENTION=400d", "400d"}} {
		var extra []string
		if tc.env != "" {
			extra = []string{tc.env}
		}
		var cfg composeSetupFile
		if err := yaml.Unmarshal(composeRunEnv(t, extra, bin, "-f", file, "config"), &cfg); err != nil {
			t.Fatal(err)
		}
		setup, ok := cfg.Services["temporal-setup"]
		if !ok {
			t.Fatal("docker-compose.yml has no temporal-setup service")
		}
		senv, err := environment(setup.Environment)
		if err != nil {
			t.Fatal(err)
		}
		tenv, err := environment(cfg.Services["temporal"].Environment)
		if err != nil {
			t.Fatal(err)
		}
		if senv["RUNBOOK_RETENTION"] != tc.want || tenv["DEFAULT_NAMESPACE_RETENTION"] != tc.want {
			t.Errorf("with %q: temporal-setup's RUNBOOK_RETENTION = %q, temporal's DEFAULT_NAMESPACE_RETENTION = %q; want both %s",
				tc.env, senv["RUNBOOK_RETENTION"], tenv["DEFAULT_NAMESPACE_RETENTION"], tc.want)
		}
		if senv["TEMPORAL_NAMESPACE"] != tenv["DEFAULT_NAMESPACE"] {
			t.Errorf("temporal-setup sets up namespace %q, auto-setup creates %q", senv["TEMPORAL_NAMESPACE"], tenv["DEFAULT_NAMESPACE"])
		}
		if tc.env != "" {
			continue
		}
		img := setup.Image
		if !strings.HasPrefix(img, "temporalio/admin-tools:") || !strings.Contains(img, "-cli-") {
			t.Errorf("temporal-setup image = %q, want temporalio/admin-tools pinned to a tag naming its temporal CLI version", img)
		}
		if strings.Join(setup.Entrypoint, " ") != "sh /setup.sh" || !mounts(setup.Volumes, filepath.Join(filepath.Dir(file), "deploy", "temporal", "setup.sh"), "/setup.sh") {
			t.Errorf("temporal-setup should run deploy/temporal/setup.sh mounted at /setup.sh; entrypoint %q, volumes %d", setup.Entrypoint, len(setup.Volumes))
		}
		if setup.Restart == "always" || setup.Restart == "unless-stopped" {
			t.Errorf("temporal-setup is one-shot; restart: %s would run it forever", setup.Restart)
		}
		var dep struct{ Condition string }
		if n, ok := cfg.Services["worker"].DependsOn["temporal-setup"]; !ok || n.Decode(&dep) != nil || dep.Condition != "service_completed_successfully" {
			t.Errorf("the worker should start after temporal-setup completed successfully (depends_on condition %q)", dep.Condition)
		}
	}
}

// mounts reports whether volumes bind source at target, in the short or
// the long form (docker-compose config prints absolute paths).
func mounts(volumes []yaml.Node, source, target string) bool {
	for _, n := range volumes {
		var src, dst string
		switch n.Kind {
		case yaml.ScalarNode:
			parts := strings.Split(n.Value, ":")
			if len(parts) < 2 {
				continue
			}
			src, dst = parts[0], parts[1]
		case yaml.MappingNode:
			var v struct{ Source, Target string }
			if n.Decode(&v) != nil {
				continue
			}
			src, dst = v.Source, v.Target
		}
		if dst == target && sameFile(src, source) {
			return true
		}
	}
	return false
}

// sameFile reports whether the paths name the same file.
func sameFile(a, b string) bool {
	ea, errA := filepath.EvalSymlinks(a)
	eb, errB := filepath.EvalSymlinks(b)
	return errA == nil && errB == nil && ea == eb
}
