package unleash_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/activities/flags"
	"github.com/runbookhq/runbook/activities/flags/flagapi"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/internal/testenv/unleashfake"
)

const (
	tokenEnv = "UNLEASH_TEST_TOKEN"
	token    = "*:*.0123456789abcdef"
)

// start runs a fake Unleash with a person's feature "new-checkout" in
// production (two strategies of their own, enabled) and a "beta" segment,
// and returns the target for it and a fresh flag.
func start(t *testing.T) (*unleashfake.Server, flags.Target) {
	t.Setenv(secretref.AllowEnv, tokenEnv)
	t.Setenv(tokenEnv, token)
	s := unleashfake.New(t, token)
	s.AddSegment("internal")
	s.AddSegment("beta")
	s.Put(unleashfake.Feature{Name: "new-checkout", Project: "default", Type: "release", Environments: []*unleashfake.Environment{{
		Name: "production", Enabled: true, Strategies: []unleashfake.Strategy{
			{"name": "userWithId", "parameters": map[string]any{"userIds": "ada,grace"}, "constraints": []any{}},
			{"name": "flexibleRollout", "title": "staff", "parameters": map[string]any{"rollout": "50", "stickiness": "userId", "groupId": "x"},
				"constraints": []any{map[string]any{"contextName": "email", "operator": "STR_ENDS_WITH", "values": []any{"@example.com"}}}},
		}}}})
	return s, flags.Target{Provider: "unleash", Flags: []string{"new-checkout", "fresh"}, Options: map[string]string{
		"url": s.URL, "token": "env:" + tokenEnv, "environment": "production"}}
}

// A person's feature and a fresh one go 10% → segment → 100% → off, each
// stage read back from Unleash, then both are restored: the person's
// strategies and enabled state exactly, the fresh feature deleted.
func TestUnleashRolloutAndRestore(t *testing.T) {
	s, target := start(t)
	a := &flags.Activities{}
	ctx := context.Background()
	before, err := a.ReadFlags(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if d := before.Definitions; !d[0].Exists || d[0].Rollout != nil || d[1].Exists {
		t.Fatalf("before: %+v", d)
	}
	for _, r := range []flags.Rollout{{On: true, Percentage: 10}, {On: true, Segments: []string{"beta"}}, {On: true, Percentage: 100}, {}} {
		got, err := a.SetFlags(ctx, flags.SetFlagsInput{Target: target, Rollout: r})
		if err != nil {
			t.Fatalf("set %s: %v", r, err)
		}
		for _, d := range got.Definitions {
			if d.Describe() != r.String() {
				t.Errorf("%s reads %s, want %s", d.Flag, d.Describe(), r)
			}
		}
		f, _ := s.Feature("default", "new-checkout")
		prod := f.Environments[0]
		if r.On && (len(prod.Strategies) != 1 || prod.Strategies[0]["title"] != "runbook" || !prod.Enabled) {
			t.Errorf("at %s Unleash holds %+v, want runbook's strategy only, enabled", r, prod)
		}
		if r.On && len(r.Segments) > 0 && !strings.Contains(jsonOf(prod.Strategies[0]["segments"]), "2") {
			t.Errorf("segment rollout holds segments %v, want [2] (beta)", prod.Strategies[0]["segments"])
		}
	}
	restored, err := a.RestoreFlags(ctx, flags.RestoreFlagsInput{Provider: "unleash", Options: target.Options, Definitions: before.Definitions})
	if err != nil {
		t.Fatal(err)
	}
	if !flagapi.Same(restored.Definitions[0], before.Definitions[0]) {
		t.Errorf("restored %s, want %s", restored.Definitions[0].Raw, before.Definitions[0].Raw)
	}
	if _, ok := s.Feature("default", "fresh"); ok || s.Archived("default", "fresh") {
		t.Error("the feature runbook created is still there (or in the archive) after the restore")
	}
	f, _ := s.Feature("default", "new-checkout")
	if prod := f.Environments[0]; !prod.Enabled || len(prod.Strategies) != 2 || prod.Strategies[0]["name"] != "userWithId" || prod.Strategies[1]["title"] != "staff" {
		t.Errorf("after restore Unleash holds %s", jsonOf(prod))
	}
	if dev := f.Environments[1]; dev.Name != "development" || dev.Enabled || len(dev.Strategies) != 0 {
		t.Errorf("runbook touched another environment: %s", jsonOf(dev))
	}
}

// A wrong token fails with an error naming the reference, not the token.
func TestUnleashWrongToken(t *testing.T) {
	_, target := start(t)
	t.Setenv(tokenEnv, "*:*.badc0ffee")
	_, err := (&flags.Activities{}).ReadFlags(context.Background(), target)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "env:"+tokenEnv) || strings.Contains(err.Error(), "badc0ffee") {
		t.Errorf("got %v", err)
	}
}

// Options: a literal token, a missing environment, an unknown option and
// an unknown segment are refused with errors saying what to write.
func TestUnleashOptions(t *testing.T) {
	s, target := start(t)
	for _, c := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"url": s.URL, "token": token, "environment": "production"}, "not the token itself"},
		{map[string]string{"url": s.URL, "token": "env:" + tokenEnv}, "environment"},
		{map[string]string{"url": s.URL, "token": "env:" + tokenEnv, "environment": "production", "env": "x"}, `unknown option "env"`},
		{map[string]string{"url": s.URL, "token": "env:NOT_ALLOWED", "environment": "production"}, secretref.AllowEnv},
		{map[string]string{"url": "http://169.254.169.254", "token": "env:" + tokenEnv, "environment": "production"}, "metadata"},
	} {
		if _, err := flags.New("unleash", c.opts); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), token) {
			t.Errorf("options %v: got %v, want an error containing %q", c.opts, err, c.want)
		}
	}
	_, err := (&flags.Activities{}).SetFlags(context.Background(), flags.SetFlagsInput{Target: target, Rollout: flags.Rollout{On: true, Segments: []string{"nope"}}})
	if err == nil || !strings.Contains(err.Error(), `no segment named "nope"`) || !strings.Contains(err.Error(), "internal, beta") {
		t.Errorf("unknown segment: %v", err)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
