package hooks

import (
	"strings"
	"testing"
)

const githubTrigger = `  - name: shop-tags
    source: github
    repository: acme/shop
    tags: "v*"
    runbook: RUNBOOK
    secret: env:SHOP_HOOK_SECRET
`

func TestLoadFillsDefaults(t *testing.T) {
	f, err := Load(writeFiles(t, stagingRunbook, githubTrigger), env)
	if err != nil {
		t.Fatal(err)
	}
	tr := f.Triggers[0]
	if tr.Version != VersionStripV || len(tr.Events) != 1 || tr.Events[0] != EventTag || tr.secret != testSecret {
		t.Fatalf("defaults not filled: %+v", tr)
	}
}

func TestLoadRefuses(t *testing.T) {
	production := strings.Replace(stagingRunbook, "name: staging", "name: production", 1)
	cases := []struct {
		name, runbook, triggers, want string
	}{
		{"literal secret", stagingRunbook, strings.Replace(githubTrigger, "env:SHOP_HOOK_SECRET", "hunter2", 1), "triggers.yaml:2: trigger \"shop-tags\": secret must be env:NAME"},
		{"unset secret", stagingRunbook, strings.Replace(githubTrigger, "SHOP_HOOK_SECRET", "NOT_SET", 1), "env:NOT_SET is not set"},
		{"empty secret", stagingRunbook, strings.Replace(githubTrigger, "SHOP_HOOK_SECRET", "EMPTY_SECRET", 1), "env:EMPTY_SECRET is not set"},
		{"runbook-readable secret", stagingRunbook, strings.Replace(githubTrigger, "SHOP_HOOK_SECRET", "E2E_SHOP", 1), "readable by runbooks"},
		{"unknown field", stagingRunbook, githubTrigger + "    branch: main\n", "line 8: field branch not found"},
		{"bad source", stagingRunbook, strings.Replace(githubTrigger, "source: github", "source: bitbucket", 1), `source "bitbucket"`},
		{"bad event", stagingRunbook, githubTrigger + "    events: [push]\n", `event "push"`},
		{"oci events", stagingRunbook, strings.Replace(githubTrigger, "source: github", "source: oci", 1) + "    events: [tag]\n", "oci trigger starts on a pushed tag only"},
		{"digest event for git", stagingRunbook, githubTrigger + "    digest: event\n", "only an oci push carries a digest"},
		{"signed environment", production, githubTrigger, "environment production needs signed decisions"},
		{"invalid runbook", "service: shop\n", githubTrigger, "shop.yaml"},
		{"duplicate name", stagingRunbook, githubTrigger + githubTrigger, "the name is used twice"},
		{"bad glob", stagingRunbook, strings.Replace(githubTrigger, `"v*"`, `"v["`, 1), "not a valid glob"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("RUNBOOK_ENV_ALLOW", "E2E_*")
			_, err := Load(writeFiles(t, c.runbook, c.triggers), env)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestLoadRefusesEmptyFile(t *testing.T) {
	_, err := Load(writeFiles(t, stagingRunbook, "  []\n"), env)
	if err == nil || !strings.Contains(err.Error(), "no triggers") {
		t.Fatalf("error %v, want no triggers", err)
	}
}
