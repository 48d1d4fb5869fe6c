package test

// The invariant a chaos trial checks: the environment says rolled-back only
// when every effect it made was undone and is read back so from the real
// system; succeeded only when every effect is in place; anything else is
// rollback-incomplete, listing exactly what is left. The audit log has every
// record exactly once with no gap, and the Slack gate message does not offer
// buttons for a release that has ended.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	goslack "github.com/slack-go/slack"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/workflows"
)

// fact is one effect of the release as read back from its real system.
type fact struct {
	step            string
	inPlace, undone bool
	what            string
}

// check holds the status against the real systems; it returns violations.
func (c *chaosRun) check(polled workflows.ReleaseStatus) []string {
	st, err := c.statusJSON()
	if err != nil {
		return []string{fmt.Sprintf("runbook status -o json: %v", err)}
	}
	var env *workflows.EnvironmentStatus
	for i := range st.Environments {
		if st.Environments[i].Name == "production" {
			env = &st.Environments[i]
		}
	}
	if env == nil {
		return []string{fmt.Sprintf("status has no environment production (release %s)", polled.State)}
	}
	var vs []string
	if st.State != env.State {
		vs = append(vs, fmt.Sprintf("release says %s, its only environment %s", st.State, env.State))
	}
	facts, more := c.readBack(env)
	vs = append(vs, more...)
	vs = append(vs, judge(env, facts)...)
	vs = append(vs, c.checkAudit(env)...)
	if c.parts.slack != nil {
		vs = append(vs, c.checkSlack(env)...)
	}
	return vs
}

// judge applies the invariant to the facts read back.
func judge(env *workflows.EnvironmentStatus, facts []fact) []string {
	var vs []string
	switch env.State {
	case workflows.StateSucceeded:
		for _, f := range facts {
			if !f.inPlace {
				vs = append(vs, fmt.Sprintf("status says succeeded, but step %s: %s", f.step, f.what))
			}
		}
	case workflows.StateRolledBack:
		for _, f := range facts {
			if !f.undone {
				vs = append(vs, fmt.Sprintf("status says rolled-back, but step %s was not undone: %s", f.step, f.what))
			}
		}
	case workflows.StateRollbackIncomplete:
		for _, f := range facts {
			listed := slices.ContainsFunc(env.Leftovers, func(l workflows.Leftover) bool { return l.Step == f.step })
			switch {
			case !f.undone && !listed:
				vs = append(vs, fmt.Sprintf("status says %s (%s) without listing step %s as left over: %s", env.State, env.Reason, f.step, f.what))
			case f.undone && listed:
				vs = append(vs, fmt.Sprintf("status lists step %s as left over, but it reads back undone: %s", f.step, f.what))
			}
		}
	default:
		vs = append(vs, fmt.Sprintf("environment ended %s (%s): want succeeded, rolled-back or %s", env.State, env.Reason, workflows.StateRollbackIncomplete))
	}
	return vs
}

func (c *chaosRun) statusJSON() (workflows.ReleaseStatus, error) {
	res := runCLIQuiet(c.r.env, "status", c.id, "-o", "json")
	var st workflows.ReleaseStatus
	if res.code != 0 {
		return st, fmt.Errorf("%s", res)
	}
	err := json.Unmarshal([]byte(res.stdout), &st)
	return st, err
}

// readBack reads every part of the trial's kind from its real system.
func (c *chaosRun) readBack(env *workflows.EnvironmentStatus) ([]fact, []string) {
	p := c.parts
	var facts []fact
	var vs []string
	if p.port != 0 {
		facts = append(facts, p.infraFact())
	}
	if p.migrations != "" {
		f, err := p.schemaFact()
		if err != nil {
			vs = append(vs, err.Error())
		} else {
			facts = append(facts, f)
		}
	}
	if p.edge != nil {
		f, w := p.trafficFact()
		facts = append(facts, f)
		if tr := env.Traffic; tr != nil && (tr.Weights["blue"] != w["blue"] || tr.Weights["green"] != w["green"]) {
			vs = append(vs, fmt.Sprintf("status says weights blue %d green %d, the edge proxy has blue %d green %d",
				tr.Weights["blue"], tr.Weights["green"], w["blue"], w["green"]))
		}
	}
	if p.hook() {
		f, more := p.hookFact()
		facts = append(facts, f)
		vs = append(vs, more...)
	}
	return facts, vs
}

// infraFact reads the OpenTofu state file and the sample app's processes.
func (p *chaosParts) infraFact() fact {
	n := stateResources(filepath.Join(p.workdir(), "terraform.tfstate"))
	version := ""
	client := http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/version", p.port)); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		version = strings.TrimSpace(string(b))
	}
	pids := p.appPids()
	return fact{step: "provision", inPlace: n > 0 && version == "2.0.0", undone: n == 0 && version == "" && len(pids) == 0,
		what: fmt.Sprintf("OpenTofu state holds %d resource(s), port %d answers version %q, %d sample app process(es)", n, p.port, version, len(pids))}
}

// stateResources counts the resource instances of a state file (0 when
// there is none).
func stateResources(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var st struct {
		Resources []struct {
			Instances []json.RawMessage `json:"instances"`
		} `json:"resources"`
	}
	if json.Unmarshal(b, &st) != nil {
		return -1
	}
	n := 0
	for _, r := range st.Resources {
		n += len(r.Instances)
	}
	return n
}

// schemaFact reads golang-migrate's version and dirty flag.
func (p *chaosParts) schemaFact() (fact, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.dsn)
	if err != nil {
		return fact{}, fmt.Errorf("read back the schema: %v", err)
	}
	defer conn.Close(ctx)
	var version int64
	var dirty bool
	if err := conn.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty); err != nil {
		return fact{}, fmt.Errorf("read back the schema version: %v", err)
	}
	return fact{step: "schema", inPlace: version == 3 && !dirty, undone: version == 1 && !dirty,
		what: fmt.Sprintf("schema at version %d, dirty %t (before the release: 1)", version, dirty)}, nil
}

// trafficFact reads the edge proxy's weights.
func (p *chaosParts) trafficFact() (fact, map[string]int) {
	w := map[string]int{}
	for _, b := range p.edge.Backends() {
		w[b.Name] = b.Weight
	}
	return fact{step: "cutover", inPlace: w["blue"] == 100 && w["green"] == 0, undone: w["green"] == 100 && w["blue"] == 0,
		what: fmt.Sprintf("the edge proxy has blue %d green %d (before the release: green 100)", w["blue"], w["green"])}, w
}

// hookFact reads the receiver: the step's effect and the hook's undo, each
// applied under one key at most.
func (p *chaosParts) hookFact() (fact, []string) {
	s := p.effects
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := map[string]int{}
	for key := range s.effects {
		keys[s.keyPath[key]]++
	}
	fwd, undo := keys["/effect/register"], keys["/effect/unregister"]
	var vs []string
	for path, n := range keys {
		if n > 1 {
			vs = append(vs, fmt.Sprintf("%s applied under %d different keys: the effect happened %d times", path, n, n))
		}
	}
	return fact{step: "register", inPlace: fwd == 1 && undo == 0, undone: fwd == 0 || undo == fwd,
		what: fmt.Sprintf("the receiver applied register %d time(s), unregister %d time(s)", fwd, undo)}, vs
}

// checkAudit reads the trial's audit log: the chain verifies, every record
// is there once, the counters of each workflow run have no gap, and the
// environment's last record says the state its status says.
func (c *chaosRun) checkAudit(env *workflows.EnvironmentStatus) []string {
	var vs []string
	if _, err := audit.Verify(c.r.auditLog); err != nil {
		vs = append(vs, fmt.Sprintf("audit chain broken: %v", err))
	}
	entries, err := audit.Read(c.r.auditLog, audit.Filter{Release: c.id})
	if err != nil {
		return append(vs, fmt.Sprintf("read the audit log: %v", err))
	}
	ids := map[string]bool{}
	seqs := map[string][]int{}
	once := map[string]int{}
	for _, e := range entries {
		if ids[e.ID] {
			vs = append(vs, "audit record "+e.ID+" written twice")
		}
		ids[e.ID] = true
		if i := strings.LastIndexByte(e.ID, '/'); i > 0 {
			if n, err := strconv.Atoi(e.ID[i+1:]); err == nil {
				seqs[e.ID[:i]] = append(seqs[e.ID[:i]], n)
			}
		}
		switch e.Action {
		case "release.started", "release.finished", "environment.started", "environment.finished", "rollback.started",
			"step.succeeded", "compensation.ran":
			once[e.Action+" "+e.Step]++
		}
		if e.Action == "environment.finished" && e.Outcome != env.State {
			vs = append(vs, fmt.Sprintf("audit says the environment finished %s, status says %s", e.Outcome, env.State))
		}
	}
	for run, ns := range seqs {
		slices.Sort(ns)
		for i, n := range ns {
			if n != i+1 {
				vs = append(vs, fmt.Sprintf("audit records of %s: counters %v, want 1..%d without a gap", run, ns, len(ns)))
				break
			}
		}
	}
	for _, k := range sortedKeys(once) {
		if once[k] > 1 {
			vs = append(vs, fmt.Sprintf("audit has %d records %q, want one", once[k], k))
		}
	}
	for _, a := range []string{"release.started ", "release.finished ", "environment.started ", "environment.finished "} {
		if once[a] != 1 {
			vs = append(vs, fmt.Sprintf("audit has %d records %q, want exactly one", once[a], strings.TrimSpace(a)))
		}
	}
	if len(vs) > 0 {
		for _, e := range entries {
			c.t.Logf("audit %s %s %s %s", e.ID, e.Action, e.Step, e.Outcome)
		}
	}
	return vs
}

// checkSlack reads the channel: one gate message at most, and none still
// offering buttons once the release has ended.
func (c *chaosRun) checkSlack(env *workflows.EnvironmentStatus) []string {
	api := goslack.New(slackToken, goslack.OptionAPIURL(c.parts.slack.URL()))
	h, err := api.GetConversationHistory(&goslack.GetConversationHistoryParameters{ChannelID: "C0CHAOS", Limit: 100})
	if err != nil {
		return []string{fmt.Sprintf("read the Slack channel: %v", err)}
	}
	var vs []string
	var gates []string
	for _, m := range h.Messages {
		if m.ThreadTimestamp != "" && m.ThreadTimestamp != m.Timestamp {
			continue // a progress line in a thread
		}
		gates = append(gates, m.Timestamp)
		for _, b := range m.Blocks.BlockSet {
			if b.BlockType() == goslack.MBTAction {
				vs = append(vs, fmt.Sprintf("Slack message %s still offers approval buttons after the release ended %s", m.Timestamp, env.State))
				break
			}
		}
	}
	if len(gates) > 1 {
		vs = append(vs, fmt.Sprintf("%d gate messages in Slack for one gate: %v", len(gates), gates))
	}
	for _, s := range env.Steps {
		if s.Gate != nil && s.Gate.SlackTS != "" && !slices.Contains(gates, s.Gate.SlackTS) {
			vs = append(vs, fmt.Sprintf("status names Slack message %s for gate %s, the channel has %v", s.Gate.SlackTS, s.Gate.Name, gates))
		}
	}
	return vs
}

// sortedKeys returns m's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
