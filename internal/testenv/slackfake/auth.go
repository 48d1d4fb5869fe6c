package slackfake

import (
	"net/http"
	"slices"
	"strings"
)

// AuthTest identifies the token's bot; the scopes it was granted come in
// the X-OAuth-Scopes header, as Slack sends them.
const AuthTest = "auth.test"

// DefaultScopes are the bot token scopes the fake reports unless
// SetScopes says otherwise: those runbook's calls need.
var DefaultScopes = []string{"chat:write", "channels:history", "usergroups:read"}

// SetScopes makes auth.test report exactly scopes for the bot token.
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = slices.Clone(scopes)
}

// authTest answers auth.test, with the scopes header set before handle
// writes the body.
func (s *Server) authTest() http.HandlerFunc {
	inner := s.handle(AuthTest, func(Call) answer {
		return answer{"ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "runbook", "team_id": "T0FAKE", "user_id": "U0BOT", "bot_id": BotID}
	})
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		scopes := s.scopes
		s.mu.Unlock()
		if scopes == nil {
			scopes = DefaultScopes
		}
		w.Header().Set("X-OAuth-Scopes", strings.Join(scopes, ","))
		inner(w, r)
	}
}
