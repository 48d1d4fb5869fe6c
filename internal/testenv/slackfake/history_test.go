package slackfake

import (
	"errors"
	"slices"
	"testing"

	goslack "github.com/slack-go/slack"
)

const token = "xoxb-test-0123456789"

func post(t *testing.T, c *goslack.Client, channel, text string, opts ...goslack.MsgOption) string {
	t.Helper()
	_, ts, err := c.PostMessage(channel, append([]goslack.MsgOption{goslack.MsgOptionText(text, false)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func meta(key string) goslack.MsgOption {
	return goslack.MsgOptionMetadata(goslack.SlackMetadata{EventType: "runbook_gate", EventPayload: map[string]any{"key": key}})
}

func TestHistory(t *testing.T) {
	s := New(token)
	t.Cleanup(s.Stop)
	c := goslack.New(token, goslack.OptionAPIURL(s.URL()))

	m1 := post(t, c, "C1", "one", meta("a"))
	m2 := post(t, c, "C1", "two")
	post(t, c, "C1", "reply", goslack.MsgOptionTS(m1), meta("reply"))
	m3 := post(t, c, "C1", "three", meta("b"))
	post(t, c, "C2", "elsewhere", meta("a"))
	// An update without metadata keeps the message's metadata, as Slack's.
	if _, _, _, err := c.UpdateMessage("C1", m1, goslack.MsgOptionText("one, edited", false)); err != nil {
		t.Fatal(err)
	}
	if !(m1 < m2 && m2 < m3) {
		t.Fatalf("timestamps %s %s %s do not increase", m1, m2, m3)
	}
	if md, ok, err := s.Calls(PostMessage)[0].Metadata(); err != nil || !ok || md.EventPayload["key"] != "a" {
		t.Errorf("recorded metadata = %+v, %v, %v", md, ok, err)
	}

	for _, tc := range []struct {
		name     string
		p        goslack.GetConversationHistoryParameters
		want     []string
		wantKeys []string // metadata keys, "" for none
		more     bool
	}{
		{name: "newest first, no replies, no metadata unless asked",
			p: goslack.GetConversationHistoryParameters{ChannelID: "C1"}, want: []string{m3, m2, m1}, wantKeys: []string{"", "", ""}},
		{name: "with metadata, kept across the update",
			p:    goslack.GetConversationHistoryParameters{ChannelID: "C1", IncludeAllMetadata: true},
			want: []string{m3, m2, m1}, wantKeys: []string{"b", "", "a"}},
		{name: "oldest is exclusive",
			p: goslack.GetConversationHistoryParameters{ChannelID: "C1", Oldest: m1}, want: []string{m3, m2}},
		{name: "inclusive oldest",
			p: goslack.GetConversationHistoryParameters{ChannelID: "C1", Oldest: m1, Inclusive: true}, want: []string{m3, m2, m1}},
		{name: "latest",
			p: goslack.GetConversationHistoryParameters{ChannelID: "C1", Latest: m3}, want: []string{m2, m1}},
		{name: "limit",
			p: goslack.GetConversationHistoryParameters{ChannelID: "C1", Limit: 2}, want: []string{m3, m2}, more: true},
		{name: "unknown channel",
			p: goslack.GetConversationHistoryParameters{ChannelID: "C9"}, want: nil},
	} {
		res, err := c.GetConversationHistory(&tc.p)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := timestamps(res.Messages); !slices.Equal(got, tc.want) || res.HasMore != tc.more {
			t.Errorf("%s: messages %v has_more %v, want %v %v", tc.name, got, res.HasMore, tc.want, tc.more)
		}
		for i, k := range tc.wantKeys {
			if got, _ := res.Messages[i].Metadata.EventPayload["key"].(string); got != k {
				t.Errorf("%s: message %d has key %q, want %q", tc.name, i, got, k)
			}
		}
	}
	if msgs, _ := c.GetConversationHistory(&goslack.GetConversationHistoryParameters{ChannelID: "C1", Oldest: m2}); len(msgs.Messages) != 1 || msgs.Messages[0].Text != "three" || msgs.Messages[0].BotID != BotID {
		t.Errorf("message as history shows it = %+v", msgs.Messages)
	}
}

func TestHistoryPages(t *testing.T) {
	s := New(token)
	t.Cleanup(s.Stop)
	c := goslack.New(token, goslack.OptionAPIURL(s.URL()))
	var want []string
	for range 5 {
		want = slices.Insert(want, 0, post(t, c, "C1", "x"))
	}
	var got []string
	p := &goslack.GetConversationHistoryParameters{ChannelID: "C1", Limit: 2}
	for pages := 1; ; pages++ {
		res, err := c.GetConversationHistory(p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, timestamps(res.Messages)...)
		if !res.HasMore {
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			break
		}
		p.Cursor = res.ResponseMetaData.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave %v, want %v", got, want)
	}

	_, err := c.GetConversationHistory(&goslack.GetConversationHistoryParameters{ChannelID: "C1", Cursor: "garbage"})
	assertSlackErr(t, err, "invalid_cursor")
	s.Fail(ConversationsHistory, Failure{Error: "missing_scope"})
	_, err = c.GetConversationHistory(&goslack.GetConversationHistoryParameters{ChannelID: "C1"})
	assertSlackErr(t, err, "missing_scope")
}

func timestamps(ms []goslack.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Timestamp)
	}
	return out
}

func assertSlackErr(t *testing.T, err error, code string) {
	t.Helper()
	var se goslack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != code {
		t.Errorf("err = %v, want Slack error %s", err, code)
	}
}
