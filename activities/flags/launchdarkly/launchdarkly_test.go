package launchdarkly_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/activities/flags"
	"github.com/runbookhq/runbook/activities/flags/flagapi"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/internal/testenv/launchdarklyfake"
)

const (
	tokenEnv = "LD_TEST_TOKEN"
	token    = "api-0123456789abcdef"
)

func ptr(i int) *int { return &i }

// start runs a fake LaunchDarkly with a person's flag "new-checkout" in
// production: on, a rule of their own for staff emails, a 50% fallthrough
// rollout by org, an individual target; and returns the target for it and
// a fresh flag.
func start(t *testing.T) (*launchdarklyfake.Server, flags.Target) {
	t.Setenv(secretref.AllowEnv, tokenEnv)
	t.Setenv(tokenEnv, token)
	s := launchdarklyfake.New(t, token)
	s.Put("shop", launchdarklyfake.Flag{Key: "new-checkout", Name: "New checkout", Kind: "boolean",
		Variations: []launchdarklyfake.Variation{{Value: true}, {Value: false}},
		Environments: map[string]*launchdarklyfake.FlagEnv{"production": {
			On: true, OffVariation: ptr(1),
			Fallthrough: launchdarklyfake.Fallthrough{Rollout: &launchdarklyfake.Rollout{BucketBy: "org", ContextKind: "user",
				Variations: []launchdarklyfake.Weighted{{Variation: 0, Weight: 50000}, {Variation: 1, Weight: 50000}}}},
			Rules: []launchdarklyfake.Rule{{Variation: ptr(0), Description: "staff", Clauses: []launchdarklyfake.Clause{
				{ContextKind: "user", Attribute: "email", Op: "endsWith", Values: []any{"@example.com"}}}}},
			Targets:        []any{map[string]any{"values": []any{"ada"}, "variation": 0}},
			ContextTargets: []any{}, Prerequisites: []any{}, Version: 7, Salt: "s",
		}}})
	return s, flags.Target{Provider: "launchdarkly", Flags: []string{"new-checkout", "fresh"}, Options: map[string]string{
		"url": s.URL, "token": "env:" + tokenEnv, "project": "shop", "environment": "production"}}
}

// A person's flag and a fresh one go 10% → segment → 100% → off, each
// stage read back from LaunchDarkly and recorded with a comment, then both
// are restored: the person's targeting exactly, the fresh flag deleted.
func TestLaunchDarklyRolloutAndRestore(t *testing.T) {
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
	for _, r := range []flags.Rollout{{On: true, Percentage: 10}, {On: true, Segments: []string{"beta-testers"}}, {On: true, Percentage: 100}, {}} {
		got, err := a.SetFlags(ctx, flags.SetFlagsInput{Target: target, Rollout: r})
		if err != nil {
			t.Fatalf("set %s: %v", r, err)
		}
		for _, d := range got.Definitions {
			if d.Describe() != r.String() {
				t.Errorf("%s reads %s, want %s", d.Flag, d.Describe(), r)
			}
		}
		f, _ := s.Flag("shop", "new-checkout")
		prod := f.Environments["production"]
		if r.Percentage == 10 && (prod.Fallthrough.Rollout == nil || prod.Fallthrough.Rollout.Variations[0].Weight != 10000) {
			t.Errorf("at 10%% the fallthrough is %s, want weight 10000 for true", jsonOf(prod.Fallthrough))
		}
		if len(r.Segments) > 0 && (len(prod.Rules) != 1 || prod.Rules[0].Clauses[0].Op != "segmentMatch") {
			t.Errorf("segment rollout holds rules %s", jsonOf(prod.Rules))
		}
	}
	if c := s.Comments(); !strings.Contains(strings.Join(c, "\n"), "runbook flag step: on for 10%") {
		t.Errorf("changes were not recorded with runbook's comment: %q", c)
	}
	restored, err := a.RestoreFlags(ctx, flags.RestoreFlagsInput{Provider: "launchdarkly", Options: target.Options, Definitions: before.Definitions})
	if err != nil {
		t.Fatal(err)
	}
	if !flagapi.Same(restored.Definitions[0], before.Definitions[0]) {
		t.Errorf("restored %s, want %s", restored.Definitions[0].Raw, before.Definitions[0].Raw)
	}
	if _, ok := s.Flag("shop", "fresh"); ok {
		t.Error("the flag runbook created is still there after the restore")
	}
	f, _ := s.Flag("shop", "new-checkout")
	prod := f.Environments["production"]
	if !prod.On || len(prod.Rules) != 1 || prod.Rules[0].Description != "staff" || prod.Fallthrough.Rollout == nil || prod.Fallthrough.Rollout.BucketBy != "org" || len(prod.Targets) != 1 {
		t.Errorf("after restore LaunchDarkly holds %s", jsonOf(prod))
	}
	if test := f.Environments["test"]; test.On || len(test.Rules) != 0 || test.Version != 1 {
		t.Errorf("runbook touched another environment: %s", jsonOf(test))
	}
}

// A wrong token fails with an error naming the reference, not the token.
func TestLaunchDarklyWrongToken(t *testing.T) {
	_, target := start(t)
	t.Setenv(tokenEnv, "api-badc0ffee")
	_, err := (&flags.Activities{}).ReadFlags(context.Background(), target)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "env:"+tokenEnv) || strings.Contains(err.Error(), "badc0ffee") {
		t.Errorf("got %v", err)
	}
}

// Options: a literal token, a missing project, an unknown option and a
// metadata address are refused with errors saying what to write; a flag
// that is not boolean is not rolled out.
func TestLaunchDarklyOptions(t *testing.T) {
	s, target := start(t)
	for _, c := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"url": s.URL, "token": token, "project": "shop", "environment": "production"}, "not the token itself"},
		{map[string]string{"url": s.URL, "token": "env:" + tokenEnv, "environment": "production"}, "project"},
		{map[string]string{"token": "env:" + tokenEnv, "project": "shop", "environment": "production", "env": "x"}, `unknown option "env"`},
		{map[string]string{"url": "http://169.254.169.254", "token": "env:" + tokenEnv, "project": "shop", "environment": "production"}, "metadata"},
	} {
		if _, err := flags.New("launchdarkly", c.opts); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), token) {
			t.Errorf("options %v: got %v, want an error containing %q", c.opts, err, c.want)
		}
	}
	s.Put("shop", launchdarklyfake.Flag{Key: "theme", Name: "Theme", Kind: "multivariate",
		Variations: []launchdarklyfake.Variation{{Value: "dark"}, {Value: "light"}}})
	target.Flags = []string{"theme"}
	_, err := (&flags.Activities{}).SetFlags(context.Background(), flags.SetFlagsInput{Target: target, Rollout: flags.Rollout{On: true, Percentage: 10}})
	if err == nil || !strings.Contains(err.Error(), "not a boolean flag") {
		t.Errorf("multivariate flag: %v", err)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
