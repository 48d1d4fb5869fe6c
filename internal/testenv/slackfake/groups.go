package slackfake

import "slices"

// UserGroupsUsersList lists the members of a user group.
const UserGroupsUsersList = "usergroups.users.list"

// SetGroupMembers makes the user group (S0123...) have exactly users.
func (s *Server) SetGroupMembers(group string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[string][]string{}
	}
	s.groups[group] = slices.Clone(users)
}

// groupMembers answers usergroups.users.list; an unknown group is Slack's
// no_such_subteam.
func (s *Server) groupMembers(c Call) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	users, ok := s.groups[c.Form.Get("usergroup")]
	if !ok {
		return answer{"ok": false, "error": "no_such_subteam"}
	}
	return answer{"users": slices.Clone(users)}
}
