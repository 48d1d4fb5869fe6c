package workflows

import (
	"cmp"
	"fmt"
	"strings"
)

// atAGlanceChange versions what the Web UI shows of a release at a glance:
// RunbookStatus says waiting or held while a person or a freeze holds an
// environment, the gate's timer says what it waits for, and an
// environment's static details carry its artifact and the Updates it
// takes. Runs started before it replay with the old attributes.
const atAGlanceChange = "at-a-glance"

// StateHeld is the RunbookStatus of a release or environment a freeze holds.
const StateHeld = "held"

// glanceState is the RunbookStatus that says a person or a freeze holds
// the environment (waiting, held), or state when nothing does.
func (s EnvironmentStatus) glanceState(state string) string {
	line := s.Blocking("")
	switch {
	case strings.HasPrefix(line, "WAITING"):
		return StateWaiting
	case strings.HasPrefix(line, "HELD"):
		return StateHeld
	}
	return state
}

// environmentDetails are an environment's static details in the Web UI:
// what it deploys and the Updates it takes.
func environmentDetails(in EnvironmentInput) string {
	// IDs in code spans: the UI's markdown typesets "1/5" as a fraction.
	s := fmt.Sprintf("release `%s` · owner %s · artifact `%s`", in.ReleaseID, in.Owner, in.Artifact.Reference)
	if d := cmp.Or(in.Digest, in.Artifact.Digest); d != "" {
		s += " · digest " + shortDigests(d)
	}
	if b := in.Build.String(); b != "" {
		s += " · " + b
	}
	if in.BreakGlass != nil {
		s += " · BREAK-GLASS: " + in.BreakGlass.Reason
	}
	return s + "\n\n" + UpdateHelp(in.ReleaseID, []string{EnvironmentID(in.Service, in.Env.Name)})
}

// glanceTime is how a deadline reads at a glance.
const glanceTime = "2006-01-02 15:04 UTC"

// gateTimerSummary names what a gate's timer waits for, and until when.
func gateTimerSummary(g *GateStatus) string {
	return fmt.Sprintf("gate %s waits for %s until %s", g.Name, gateNeeds(g), g.Deadline.UTC().Format(glanceTime))
}

// gateNeeds says how many approvals the gate still needs, and from whom.
func gateNeeds(g *GateStatus) string {
	return fmt.Sprintf("%d approval(s) from %s", max(1, g.MinApprovals-len(g.Approvals)), GateApprovers(g))
}

// Blocking is the one line that says what the environment waits for and
// who or what can move it on, for the top of the Web UI details of the
// environment and of its release; "" while it runs on its own or once it
// has ended. It reads only the status, so the release renders it from its
// copy without asking the child.
//
// WAITING: gate change-manager — 1 approval from alice, bob or group:rm by 2026-12-08 04:01 UTC — runbook approve R --gate change-manager
// HELD: step deploy held by freeze-3 …; lift it with: runbook freeze lift …
// WAITING: step migrate — migration 002 failed …; decide: runbook migrate retry R | …
// PAUSED by analysis — analysis inconclusive: …; runbook resume R | runbook promote R | runbook abort R
// ROLLING BACK: compensation 2 of 3 (schema) — SLO breach …
func (s EnvironmentStatus) Blocking(release string) string {
	switch {
	case s.State == StateRollingBack:
		return s.rollingBack()
	case isFinal(s.State) || s.State == StatePending:
		return ""
	case s.Paused:
		return s.pausedLine(release)
	}
	st := s.step(s.CurrentStep)
	if st == nil || st.State != StateWaiting {
		return ""
	}
	if g := st.Gate; g != nil && g.State == StateWaiting {
		return gateLine(g, release)
	}
	switch {
	case strings.HasPrefix(st.Detail, "held by "):
		return fmt.Sprintf("HELD: step %s %s", st.Name, st.Detail)
	case st.Kind == BuiltinWindow || strings.HasPrefix(st.Detail, "waiting for window") ||
		strings.HasPrefix(st.Detail, "cannot read the change freezes"):
		// A clock or an outage holds it, not a person.
		return fmt.Sprintf("HELD: step %s — %s", st.Name, st.Detail)
	}
	return fmt.Sprintf("WAITING: step %s — %s", st.Name, st.Detail)
}

// gateLine says how many approvals the gate still needs, from whom, by
// when, and the command that gives one.
func gateLine(g *GateStatus, release string) string {
	line := fmt.Sprintf("WAITING: gate %s — %s", g.Name, gateNeeds(g))
	if !g.Deadline.IsZero() {
		line += " by " + g.Deadline.UTC().Format(glanceTime)
	}
	return line + fmt.Sprintf(" — runbook approve %s --gate %s", release, g.Name)
}

// GateApprovers names who may approve the gate, for people: "alice, bob or
// group:release-managers", or anyone but the requester when the gate
// names nobody.
func GateApprovers(g *GateStatus) string {
	who := g.Approvers
	switch len(who) {
	case 0:
		return "anyone but the requester"
	case 1:
		return who[0]
	}
	return strings.Join(who[:len(who)-1], ", ") + " or " + who[len(who)-1]
}

// pausedLine says who paused and how to go on; a hold by the analysis
// says why it holds.
func (s EnvironmentStatus) pausedLine(release string) string {
	why := ""
	if s.Traffic != nil && s.Traffic.Hold != "" {
		why = " — " + s.Traffic.Hold
	}
	next := fmt.Sprintf("runbook resume %s", release)
	if s.PausedBy == holdByAnalysis {
		next = fmt.Sprintf("runbook resume %[1]s | runbook promote %[1]s | runbook abort %[1]s", release)
	}
	return fmt.Sprintf("PAUSED by %s%s — %s", s.PausedBy, why, next)
}

// rollingBack says which compensation runs and why the rollback started.
func (s EnvironmentStatus) rollingBack() string {
	n := len(s.Compensations)
	for i, c := range s.Compensations {
		if c.State == StateCompensating || c.State == StatePending {
			return fmt.Sprintf("ROLLING BACK: compensation %d of %d (%s: %s) — %s", i+1, n, c.Step, c.Action, s.Reason)
		}
	}
	return "ROLLING BACK — " + s.Reason
}

// step returns the named step's status, nil when there is none.
func (s EnvironmentStatus) step(name string) *StepStatus {
	for i := range s.Steps {
		if s.Steps[i].Name == name {
			return &s.Steps[i]
		}
	}
	return nil
}

// knownStep is the step the release can name from its copy of the status:
// the current one, or with progress by phase only the step that blocks
// (other steps move on without telling the release).
func (s EnvironmentStatus) knownStep() string {
	if s.PhasesOnly && s.Blocking("") == "" {
		return ""
	}
	return s.CurrentStep
}

// blockingRelease is the blocking line of the release's running
// environment, "" when nothing waits.
func (s ReleaseStatus) blockingRelease() string {
	if k := s.Soak; k != nil {
		return fmt.Sprintf("SOAKING: %s succeeded; %s starts at %s — cancel the release to stop it", k.Environment, k.Next, k.Until.UTC().Format(glanceTime))
	}
	e, ok := s.Current()
	if !ok {
		return ""
	}
	if line := e.Blocking(s.ReleaseID); line != "" {
		return e.Name + ": " + line
	}
	return ""
}

// blockingMarkdown renders the blocking line in bold with its command in a
// code span, so the Web UI's markdown shows the IDs in it as typed (it
// typesets "1/5" as a fraction) and a person can copy the command.
func blockingMarkdown(line string) string {
	i := strings.Index(line, "runbook ")
	if i < 0 {
		return "**" + line + "**"
	}
	return "**" + strings.TrimRight(line[:i], " ") + "** `" + line[i:] + "`"
}

// shortDigests shortens every sha256 digest in s to its first 12 hex
// characters: the Web UI's details frame is narrow, and 12 characters
// identify an artifact to a person (the status keeps the full digest).
func shortDigests(s string) string {
	const prefix, keep = "sha256:", 12
	var b strings.Builder
	for {
		i := strings.Index(s, prefix)
		if i < 0 {
			return b.String() + s
		}
		j := i + len(prefix)
		k := j
		for k < len(s) && k-j < 64 && isHex(s[k]) {
			k++
		}
		b.WriteString(s[:j])
		if k-j == 64 {
			b.WriteString(s[j:j+keep] + "…")
		} else {
			b.WriteString(s[j:k])
		}
		s = s[k:]
	}
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }
