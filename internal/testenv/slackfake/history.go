package slackfake

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// ConversationsHistory lists a channel's messages, newest first.
const ConversationsHistory = "conversations.history"

// Bot and app that the fake's stored messages are from.
const (
	BotID = "B0FAKE"
	AppID = "A0FAKE"
)

// conversationsHistory answers conversations.history from the stored
// messages of the channel (thread replies are not stored, as Slack leaves
// them out too), newest first, between oldest and latest (exclusive unless
// inclusive), at most limit (100 by default, 999 at most) per page, with a
// cursor to the next page. Metadata is included only with
// include_all_metadata, as Slack does.
func (s *Server) conversationsHistory(c Call) answer {
	f := c.Form
	if f.Get("channel") == "" {
		return answer{"ok": false, "error": "channel_not_found"}
	}
	oldest, ok := parseTS(f.Get("oldest"), 0)
	if !ok {
		return answer{"ok": false, "error": "invalid_ts_oldest"}
	}
	latest, ok := parseTS(f.Get("latest"), math.MaxInt64)
	if !ok {
		return answer{"ok": false, "error": "invalid_ts_latest"}
	}
	limit := 100
	if v := f.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return answer{"ok": false, "error": "invalid_limit"}
		}
		if n > 0 {
			limit = min(n, 999)
		}
	}
	inclusive, withMeta := truthy(f.Get("inclusive")), truthy(f.Get("include_all_metadata"))
	after := int64(math.MaxInt64) // the page starts at or before this ts
	if cur := f.Get("cursor"); cur != "" {
		if after, ok = decodeCursor(cur); !ok {
			return answer{"ok": false, "error": "invalid_cursor"}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ch := f.Get("channel")
	tss := s.history[ch]
	msgs := []map[string]any{}
	next := ""
	for i := len(tss) - 1; i >= 0; i-- {
		at, _ := parseTS(tss[i], 0)
		if at > after || at > latest || (at == latest && !inclusive) {
			continue
		}
		if at < oldest || (at == oldest && !inclusive) {
			break
		}
		if len(msgs) == limit {
			next = encodeCursor(tss[i])
			break
		}
		msgs = append(msgs, s.messages[ch+"/"+tss[i]].render(withMeta))
	}
	a := answer{"ok": true, "messages": msgs, "has_more": next != "", "pin_count": 0}
	if next != "" {
		a["response_metadata"] = map[string]any{"next_cursor": next}
	}
	return a
}

// render is the message as conversations.history shows it.
func (m *message) render(withMeta bool) map[string]any {
	c := m.content
	out := map[string]any{"type": "message", "ts": m.ts, "text": c.Form.Get("text"), "bot_id": BotID, "app_id": AppID}
	if b := c.Form.Get("blocks"); b != "" && json.Valid([]byte(b)) {
		out["blocks"] = json.RawMessage(b)
	}
	if withMeta && m.metadata != nil {
		out["metadata"] = m.metadata
	}
	return out
}

// parseTS reads a Slack timestamp ("1712345678.000123", or whole seconds)
// as microseconds; "" is def.
func parseTS(s string, def int64) (int64, bool) {
	if s == "" {
		return def, true
	}
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n < 0 || len(frac) > 6 {
		return 0, false
	}
	var us int64
	if frac != "" {
		if us, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil || us < 0 {
			return 0, false
		}
	}
	return n*1e6 + us, true
}

// Cursors look like Slack's: base64 of "next_ts:" and the timestamp the
// next page starts at.
const cursorPrefix = "next_ts:"

func encodeCursor(ts string) string {
	return base64.StdEncoding.EncodeToString([]byte(cursorPrefix + ts))
}

func decodeCursor(cur string) (int64, bool) {
	b, err := base64.StdEncoding.DecodeString(cur)
	if err != nil {
		return 0, false
	}
	ts, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok || ts == "" {
		return 0, false
	}
	return parseTS(ts, 0)
}

func truthy(v string) bool { return v == "1" || v == "true" }
