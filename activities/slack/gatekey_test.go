package slack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/internal/testenv/slackfake"
)

const gateKey = "env/checkout/staging/run-1/approve"

func TestGateKey(t *testing.T) {
	m := waiting()
	m.EnvWorkflowID, m.EnvRunID, m.Gate = "env/checkout/1.4.2/staging", "run-1", "approve"
	if got, want := GateKey(m), "env/checkout/1.4.2/staging/run-1/approve"; got != want {
		t.Errorf("GateKey = %q, want %q", got, want)
	}
}

// A first attempt posts once, with the key as metadata when there is one,
// and never reads the channel's history.
func TestPostGateFirstAttempt(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		wantMeta  bool
	}{
		{name: "with a key", key: gateKey, wantMeta: true},
		{name: "without a key, as before", key: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, a, ae := setup(t, testToken)
			v, err := ae.ExecuteActivity(a.PostGate, PostGateInput{Channel: "C0DEPLOY", Message: waiting(), Key: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			var res PostGateResult
			if err := v.Get(&res); err != nil || res.TS == "" {
				t.Fatalf("PostGate = %+v, %v", res, err)
			}
			posts := fake.Calls(slackfake.PostMessage)
			if len(posts) != 1 {
				t.Fatalf("%d chat.postMessage calls, want 1", len(posts))
			}
			md, ok, err := posts[0].Metadata()
			if err != nil || ok != tc.wantMeta {
				t.Fatalf("metadata = %+v, present %v, %v; want present %v", md, ok, err, tc.wantMeta)
			}
			if ok && (md.EventType != GateEventType || md.EventPayload["key"] != tc.key) {
				t.Errorf("metadata = %+v, want event type %s and key %q", md, GateEventType, tc.key)
			}
			if n := len(fake.Calls(slackfake.ConversationsHistory)); n != 0 {
				t.Errorf("%d conversations.history calls on a first attempt", n)
			}
		})
	}
}

// A retry looks for the message of an earlier attempt whose answer was
// lost, and posts only when it cannot find it.
func TestPostGateRetry(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  string
		// others are keys of gate messages already in the channel.
		others []string
		// firstPosts: the first attempt posted before its answer was lost;
		// otherwise it failed before reaching Slack.
		firstPosts bool
		// noise is how many other messages land in the channel after the
		// first attempt.
		noise       int
		historyFail slackfake.Failure
		wantPosts   int // gate messages posted by the two attempts
		wantHistory int
		wantSame    bool // the retry returns the first attempt's message
		wantWarn    string
	}{
		{name: "lost answer: the retry returns the posted message", key: gateKey, firstPosts: true,
			wantPosts: 1, wantHistory: 1, wantSame: true},
		{name: "found on a later page", key: gateKey, firstPosts: true, noise: 150,
			wantPosts: 1, wantHistory: 2, wantSame: true},
		{name: "nothing posted before: the retry posts", key: gateKey,
			wantPosts: 1, wantHistory: 1},
		{name: "another gate's message is not taken", key: gateKey, others: []string{"env/other/run-1/approve", gateKey + "/2"},
			wantPosts: 1, wantHistory: 1},
		{name: "beyond the pages searched: posts again", key: gateKey, firstPosts: true, noise: 350,
			wantPosts: 2, wantHistory: historyMaxPages, wantWarn: "too many messages"},
		{name: "missing scope: posts again", key: gateKey, firstPosts: true,
			historyFail: slackfake.Failure{Error: "missing_scope"},
			wantPosts:   2, wantHistory: 1, wantWarn: "channels:history"},
		{name: "not in channel: posts again", key: gateKey, firstPosts: true,
			historyFail: slackfake.Failure{Error: "not_in_channel"},
			wantPosts:   2, wantHistory: 1, wantWarn: "invite the app"},
		{name: "rate limited: posts again", key: gateKey, firstPosts: true,
			historyFail: slackfake.Failure{Status: 429, RetryAfter: 30},
			wantPosts:   2, wantHistory: 1, wantWarn: "rate-limits"},
		{name: "empty key: posts again without looking, as before", key: "", firstPosts: true,
			wantPosts: 2, wantHistory: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, a, ae := setup(t, testToken)
			fake.Fail(slackfake.ConversationsHistory, tc.historyFail)
			for _, k := range tc.others {
				if _, err := ae.ExecuteActivity(a.PostGate, PostGateInput{Channel: "C0DEPLOY", Message: waiting(), Key: k}); err != nil {
					t.Fatal(err)
				}
			}
			before := len(fake.Calls(slackfake.PostMessage))
			started := time.Now()
			in := PostGateInput{Channel: "C0DEPLOY", Message: waiting(), Key: tc.key}
			r := retried(t, a, in, tc.firstPosts, tc.noise)

			if r.err != nil {
				t.Fatal(r.err)
			}
			if got := len(fake.Calls(slackfake.PostMessage)) - before - tc.noise; got != tc.wantPosts {
				t.Errorf("%d gate messages posted, want %d", got, tc.wantPosts)
			}
			if _, ok := fake.Message(r.res.Channel, r.res.TS); !ok {
				t.Errorf("PostGate returned %+v, which Slack does not have", r.res)
			}
			if same := r.res == r.lost; same != tc.wantSame {
				t.Errorf("retry returned %+v, first attempt posted %+v; want the same: %v", r.res, r.lost, tc.wantSame)
			}
			hist := fake.Calls(slackfake.ConversationsHistory)
			if len(hist) != tc.wantHistory {
				t.Errorf("%d conversations.history calls, want %d", len(hist), tc.wantHistory)
			}
			if len(hist) > 0 {
				checkLookup(t, hist[0].Form.Get, started)
			}
			if warn := r.logs.warnings(); (tc.wantWarn == "") != (warn == "") || !strings.Contains(warn, tc.wantWarn) {
				t.Errorf("warnings %q, want one containing %q", warn, tc.wantWarn)
			}
		})
	}
}

// checkLookup checks the parameters of the lookup of a retry whose first
// attempt started at started.
func checkLookup(t *testing.T, get func(string) string, started time.Time) {
	t.Helper()
	if get("channel") != "C0DEPLOY" || get("include_all_metadata") != "1" {
		t.Errorf("history call: channel %q include_all_metadata %q", get("channel"), get("include_all_metadata"))
	}
	var sec, usec int64
	if _, err := fmt.Sscanf(get("oldest"), "%d.%d", &sec, &usec); err != nil {
		t.Fatalf("oldest = %q: %v", get("oldest"), err)
	}
	oldest := time.Unix(sec, usec*1000)
	if !oldest.Before(started.Add(-clockSkew)) || oldest.Before(started.Add(-maxLookBack-clockSkew-time.Minute)) {
		t.Errorf("oldest = %s, want shortly before the first attempt at %s", oldest, started)
	}
}

type retry struct {
	res  PostGateResult // the retry's answer
	lost PostGateResult // what the first attempt posted, if it did
	err  error
	logs *logs
}

// retried runs PostGate as a workflow does, with a retry policy, so that its
// second attempt sees activity.GetInfo(ctx).Attempt == 2. The first attempt
// loses its answer, as on a timeout or a worker crash: after posting when
// firstPosts, before reaching Slack otherwise; then noise other messages
// land in the channel.
func retried(t *testing.T, a *Activities, in PostGateInput, firstPosts bool, noise int) retry {
	t.Helper()
	r := retry{logs: &logs{}}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(r.logs)))
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(time.Minute)
	env.RegisterActivityWithOptions(func(ctx context.Context, in PostGateInput) (PostGateResult, error) {
		if activity.GetInfo(ctx).Attempt > 1 {
			return a.PostGate(ctx, in)
		}
		if firstPosts {
			var err error
			if r.lost, err = a.PostGate(ctx, in); err != nil {
				return PostGateResult{}, err
			}
		}
		for i := range noise {
			opts := []goslack.MsgOption{goslack.MsgOptionText(fmt.Sprintf("noise %d", i), false)}
			if i%2 == 0 {
				opts = append(opts, goslack.MsgOptionMetadata(gateMetadata(fmt.Sprintf("noise/%d", i))))
			}
			if _, _, err := a.Client.PostMessageContext(ctx, in.Channel, opts...); err != nil {
				return PostGateResult{}, err
			}
		}
		return PostGateResult{}, temporal.NewApplicationError("activity StartToClose timeout", "Lost")
	}, activity.RegisterOptions{Name: "PostGate"})
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (PostGateResult, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 15 * time.Second, ScheduleToCloseTimeout: 2 * time.Minute,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 2},
		})
		var res PostGateResult
		err := workflow.ExecuteActivity(ctx, "PostGate", in).Get(ctx, &res)
		return res, err
	}, workflow.RegisterOptions{Name: "gate"})
	env.ExecuteWorkflow("gate")
	if r.err = env.GetWorkflowError(); r.err == nil {
		r.err = env.GetWorkflowResult(&r.res)
	}
	return r
}

// logs is a slog handler that keeps PostGate's warnings (not the SDK's
// about the first attempt's failure).
type logs struct {
	mu   sync.Mutex
	warn []string
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logs) WithGroup(string) slog.Handler            { return l }

func (l *logs) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn || !strings.HasPrefix(r.Message, "PostGate:") {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warn = append(l.warn, b.String())
	return nil
}

func (l *logs) warnings() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.warn, "\n")
}

func TestSearchFrom(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		info activity.Info
		want time.Time
	}{
		{name: "ScheduleToClose bounds the first attempt",
			info: activity.Info{StartedTime: now, ScheduledTime: now.Add(-30 * time.Second), ScheduleToCloseTimeout: 2 * time.Minute},
			want: now.Add(-2*time.Minute - clockSkew)},
		{name: "first scheduling earlier than ScheduleToClose says",
			info: activity.Info{StartedTime: now, ScheduledTime: now.Add(-10 * time.Minute), ScheduleToCloseTimeout: 2 * time.Minute},
			want: now.Add(-10*time.Minute - clockSkew)},
		{name: "no ScheduleToClose: the first scheduling",
			info: activity.Info{StartedTime: now, ScheduledTime: now.Add(-5 * time.Minute)},
			want: now.Add(-5*time.Minute - clockSkew)},
		{name: "capped look-back",
			info: activity.Info{StartedTime: now, ScheduledTime: now.Add(-24 * time.Hour), ScheduleToCloseTimeout: 48 * time.Hour},
			want: now.Add(-maxLookBack - clockSkew)},
		{name: "nothing known: capped look-back",
			info: activity.Info{StartedTime: now},
			want: now.Add(-maxLookBack - clockSkew)},
	} {
		if got := searchFrom(tc.info); !got.Equal(tc.want) {
			t.Errorf("%s: searchFrom = %s, want %s", tc.name, got, tc.want)
		}
	}
}
