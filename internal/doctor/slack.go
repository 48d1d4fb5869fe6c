package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// slackScope is a bot token scope runbook needs, with the calls that need it.
type slackScope struct {
	scope, why string
	// alt, when set, is a scope that serves as well (groups:history
	// for gate messages in private channels).
	alt string
}

// requiredScopes are the scopes of the Slack methods runbook calls
// (activities/slack, internal/slackin, worker/slack.go). views.open and
// apps.connections.open need none.
func requiredScopes(groups bool) []slackScope {
	s := []slackScope{
		{scope: "chat:write", why: "chat.postMessage, chat.update and chat.postEphemeral: gate messages and replies"},
		{scope: "channels:history", alt: "groups:history", why: "conversations.history: finding a gate message already posted when a post is retried"},
	}
	if groups {
		s = append(s, slackScope{scope: "usergroups:read", why: "usergroups.users.list: RUNBOOK_SLACK_GROUPS approvers"})
	}
	return s
}

// checkSlack calls auth.test with the bot token and compares the scopes
// Slack reports (the X-OAuth-Scopes header) with those runbook needs.
func checkSlack(ctx context.Context, cfg Config) Result {
	if cfg.SlackTokenErr != nil {
		return Result{Check: CheckSlack, Status: Fail, Detail: cfg.SlackTokenErr.Error(),
			Fix: "set one of SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE (a file the worker can read)"}
	}
	if cfg.SlackToken == "" {
		return Result{Check: CheckSlack, Status: Skip, Detail: "SLACK_BOT_TOKEN is not set: no Slack"}
	}
	endpoint := strings.TrimRight(cfg.SlackAPIURL, "/") + "/auth.test"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(url.Values{}.Encode()))
	if err != nil {
		return Result{Check: CheckSlack, Status: Fail, Detail: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+cfg.SlackToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := cfg.HTTP.Do(req)
	if err != nil {
		return Result{Check: CheckSlack, Status: Fail, Detail: fmt.Sprintf("auth.test: %v", err),
			Fix: "check the network path to " + cfg.SlackAPIURL + " (proxy, firewall) or RUNBOOK_SLACK_API_URL"}
	}
	defer resp.Body.Close()
	var body struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		Team  string `json:"team"`
		User  string `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return Result{Check: CheckSlack, Status: Fail, Detail: fmt.Sprintf("auth.test answered %s, not Slack's JSON: %v", resp.Status, err)}
	}
	if !body.OK {
		return Result{Check: CheckSlack, Status: Fail, Detail: "Slack refused the bot token: " + body.Error,
			Fix: "set SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_FILE) to the app's xoxb- token: api.slack.com/apps → your app → OAuth & Permissions"}
	}
	header, reported := resp.Header["X-Oauth-Scopes"]
	return judgeScopes(cfg, body.User, body.Team, strings.Join(header, ","), reported)
}

// judgeScopes compares the scopes header with requiredScopes.
func judgeScopes(cfg Config, user, team, header string, reported bool) Result {
	r := Result{Check: CheckSlack}
	if !reported {
		r.Status, r.Detail = Warn, fmt.Sprintf("token of %s in %s is valid, but Slack did not report its scopes", user, team)
		r.Fix = "check the Bot Token Scopes by hand: api.slack.com/apps → your app → OAuth & Permissions"
		return r
	}
	var have []string
	for _, s := range strings.Split(header, ",") {
		if s = strings.TrimSpace(s); s != "" {
			have = append(have, s)
		}
	}
	var missing, why []string
	for _, need := range requiredScopes(cfg.SlackGroups) {
		if !slices.Contains(have, need.scope) && (need.alt == "" || !slices.Contains(have, need.alt)) {
			missing = append(missing, need.scope)
			name := need.scope
			if need.alt != "" {
				name += " (or " + need.alt + ")"
			}
			why = append(why, name+" for "+need.why)
		}
	}
	if len(missing) > 0 {
		r.Status = Fail
		r.Detail = fmt.Sprintf("the bot token of %s lacks %s", user, strings.Join(why, "; "))
		r.Fix = fmt.Sprintf("api.slack.com/apps → your app → OAuth & Permissions → Bot Token Scopes: add %s, reinstall the app, and give the worker the new xoxb- token", strings.Join(missing, ", "))
		return r
	}
	r.Status, r.Detail = OK, fmt.Sprintf("token of %s in %s has the scopes runbook calls need (%s)", user, team, strings.Join(have, ", "))
	return r
}
