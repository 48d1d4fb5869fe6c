package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/runbookhq/runbook/internal/testenv/slackfake"
)

// TestGroupResolverAsksSlackOncePerMinute: a user's approver groups come
// from Slack's user groups, cached for a minute; an unreadable group never
// counts as membership.
func TestGroupResolverAsksSlackOncePerMinute(t *testing.T) {
	fake := slackfake.New("xoxb-test")
	t.Cleanup(fake.Stop)
	fake.SetGroupMembers("S0CAB", "U0ALICE", "U0BOB")
	fake.SetGroupMembers("S0WEB", "U0BOB")
	c := goslack.New("xoxb-test", goslack.OptionAPIURL(fake.URL()))
	g := newGroupResolver(c, map[string]string{"S0CAB": "cab", "S0WEB": "web", "S0GONE": "gone"})
	now := time.Unix(1_750_000_000, 0)
	g.now = func() time.Time { return now }
	ctx := context.Background()

	if got := strings.Join(g.groupsOf(ctx, "U0BOB"), ","); got != "cab,web" {
		t.Errorf("bob's groups = %q, want cab,web", got)
	}
	if got := g.groupsOf(ctx, "U0ALICE"); len(got) != 1 || got[0] != "cab" {
		t.Errorf("alice's groups = %v, want [cab]", got)
	}
	if got := g.groupsOf(ctx, "U0EVE"); len(got) != 0 {
		t.Errorf("eve's groups = %v, want none", got)
	}
	// Two readable groups asked once each; the missing one every time.
	if n := len(fake.Calls(slackfake.UserGroupsUsersList)); n != 2+3 {
		t.Errorf("usergroups.users.list called %d times, want 5 (2 cached groups, 3 tries of the missing one)", n)
	}
	fake.SetGroupMembers("S0CAB", "U0BOB")
	now = now.Add(groupCacheTTL + time.Second)
	if got := g.groupsOf(ctx, "U0ALICE"); len(got) != 0 {
		t.Errorf("after alice left cab and the cache expired, her groups = %v, want none", got)
	}
}

func TestParseIdentities(t *testing.T) {
	m, err := parseIdentities("RUNBOOK_SLACK_GROUPS", " S0CAB=cab , S0WEB=web,")
	if err != nil || m["S0CAB"] != "cab" || m["S0WEB"] != "web" || len(m) != 2 {
		t.Fatalf("parse = %v, %v", m, err)
	}
	if _, err := parseIdentities("RUNBOOK_SLACK_GROUPS", "S0CAB"); err == nil || !strings.Contains(err.Error(), "RUNBOOK_SLACK_GROUPS") {
		t.Errorf("a bad entry: err = %v, want one naming the variable", err)
	}
}
