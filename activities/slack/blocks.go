package slack

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	goslack "github.com/slack-go/slack"
)

// Block Kit limits this layout stays within.
const (
	maxHeaderLen  = 150
	maxSectionLen = 3000
	maxFieldLen   = 2000
)

// ActionsBlockID is the block ID of the Approve / Reject buttons.
const ActionsBlockID = "runbook.decide"

// Blocks renders the gate message: a header, the facts, what will change, a
// link to the release, and while the gate waits, the Approve and Reject
// buttons. Once the gate is closed the buttons are gone and a line says who
// decided and when.
func Blocks(m GateMessage) []goslack.Block {
	return BlocksWithReport(m, "")
}

// BlocksWithReport is Blocks with a "Report" link to the release's report
// beside the Web UI's (none when report is "").
func BlocksWithReport(m GateMessage, report string) []goslack.Block {
	blocks := []goslack.Block{
		goslack.NewHeaderBlock(plain(clip(headline(m), maxHeaderLen))),
		goslack.NewSectionBlock(nil, fields(m), nil),
	}
	for _, f := range m.Flags {
		blocks = append(blocks, section(":rotating_light: *"+esc(clip(f, maxSectionLen-32))+"*"))
	}
	if m.Build != "" {
		blocks = append(blocks, goslack.NewContextBlock("", mrkdwn(esc(clip("Build: "+m.Build, maxSectionLen)))))
	}
	if m.Instructions != "" {
		blocks = append(blocks, section(esc(m.Instructions)))
	}
	if len(m.Changes) > 0 {
		blocks = append(blocks, section(bullets("*What will change*", m.Changes)))
	}
	if len(m.Migrations) > 0 {
		blocks = append(blocks, section(bullets("*Pending migrations*", m.Migrations)))
	}
	if m.SLOCheck != "" {
		blocks = append(blocks, goslack.NewContextBlock("", mrkdwn(clip("SLO queries answer now? `"+esc(m.SLOCheck)+"`", maxSectionLen))))
	}
	if l := links(m.UILink, report); l != "" {
		blocks = append(blocks, section(l))
	}
	if line := outcome(m); line != "" {
		blocks = append(blocks, goslack.NewContextBlock("", mrkdwn(clip(line, maxSectionLen))))
	}
	if m.State == StateWaiting {
		blocks = append(blocks, buttons(RouteOf(m).Encode()))
	}
	return blocks
}

// links is the line of links under the message: the Web UI, the report.
func links(ui, report string) string {
	var ls []string
	if ui != "" {
		ls = append(ls, fmt.Sprintf("<%s|Open the release in the Temporal Web UI>", linkURL(ui)))
	}
	if report != "" {
		ls = append(ls, fmt.Sprintf("<%s|Report>", linkURL(report)))
	}
	return strings.Join(ls, " · ")
}

// linkURL keeps a URL from closing Slack's <url|text> early: a signed
// link's query has & (which Slack wants as &amp;) and never | or >.
func linkURL(u string) string {
	return strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C").Replace(u)
}

// Text is the plain-text fallback of the message, shown in notifications and
// by clients that cannot render blocks.
func Text(m GateMessage) string {
	s := headline(m) + " (gate " + m.Gate + ", requested by " + m.Requester + ")"
	if len(m.Flags) > 0 {
		s = strings.Join(m.Flags, "; ") + " — " + s
	}
	if line := outcome(m); line != "" {
		s += ": " + line
	}
	return s
}

// headline says what the message is about and where the gate stands.
func headline(m GateMessage) string {
	what := fmt.Sprintf("%s %s → %s", m.Service, m.Version, m.Environment)
	switch m.State {
	case StateWaiting:
		return "Approval needed: " + what
	case StateApproved:
		return "Approved: " + what
	case StateRejected:
		return "Rejected: " + what
	case StateTimedOut:
		return "Approval timed out: " + what
	case StateInterrupted:
		return "Approval interrupted: " + what
	}
	return "Approval " + m.State + ": " + what
}

// fields are the facts beside each other; Slack allows ten.
func fields(m GateMessage) []*goslack.TextBlockObject {
	approvers := "anyone"
	if len(m.Approvers) > 0 {
		approvers = strings.Join(m.Approvers, ", ")
	}
	fs := []*goslack.TextBlockObject{
		field("Service", m.Service),
		field("Version", m.Version),
		field("Environment", m.Environment),
		field("Requested by", m.Requester),
		field("Gate", m.Gate),
		field("Approvals", fmt.Sprintf("%d of %d", len(m.Approvals), m.MinApprovals)),
		field("Approvers", approvers),
	}
	if m.State == StateWaiting && !m.Deadline.IsZero() {
		fs = append(fs, field("Decide before", m.Deadline.UTC().Format("2006-01-02 15:04 UTC")))
	}
	return fs
}

// outcome is the line under the facts: who decided and when, or who has
// approved so far while the gate waits.
func outcome(m GateMessage) string {
	switch m.State {
	case StateWaiting:
		if len(m.Approvals) == 0 {
			return ""
		}
		return "approved so far by " + approvalLine(m.Approvals)
	case StateApproved:
		return "approved by " + approvalLine(m.Approvals)
	case StateRejected:
		return rejectionLine(m)
	case StateTimedOut:
		return fmt.Sprintf("timed out with %d of %d approvals; the release was stopped", len(m.Approvals), m.MinApprovals)
	case StateInterrupted:
		return "the release was aborted or cancelled before the gate was decided"
	}
	return ""
}

// approvalLine reads "alice, bob at 12:03 UTC", the time of the last approval.
func approvalLine(as []Approval) string {
	names := make([]string, len(as))
	var last time.Time
	for i, a := range as {
		names[i] = esc(a.Actor)
		if a.At.After(last) {
			last = a.At
		}
	}
	s := strings.Join(names, ", ")
	if !last.IsZero() {
		s += " at " + clock(last)
	}
	return s
}

func rejectionLine(m GateMessage) string {
	if m.Rejection == nil {
		return "rejected"
	}
	s := "rejected by " + esc(m.Rejection.Actor)
	if !m.Rejection.At.IsZero() {
		s += " at " + clock(m.Rejection.At)
	}
	if m.Reason != "" {
		s += ": " + esc(m.Reason)
	}
	return s
}

// buttons are Approve and Reject; both carry the route. Reject asks for a
// reason in a modal, so it needs no confirmation dialog of its own.
func buttons(route string) *goslack.ActionBlock {
	approve := goslack.NewButtonBlockElement(ActionApprove, route, plain("Approve")).WithStyle(goslack.StylePrimary)
	reject := goslack.NewButtonBlockElement(ActionReject, route, plain("Reject")).WithStyle(goslack.StyleDanger)
	return goslack.NewActionBlock(ActionsBlockID, approve, reject)
}

// bullets renders a titled list, cut to fit one section.
func bullets(title string, lines []string) string {
	var b strings.Builder
	b.WriteString(title)
	for i, l := range lines {
		item := "\n• " + esc(l)
		more := "\n… and " + strconv.Itoa(len(lines)-i) + " more"
		if b.Len()+len(item)+len(more) > maxSectionLen {
			b.WriteString(more)
			break
		}
		b.WriteString(item)
	}
	return b.String()
}

func field(name, value string) *goslack.TextBlockObject {
	return mrkdwn(clip("*"+name+"*\n"+esc(value), maxFieldLen))
}

func section(text string) *goslack.SectionBlock {
	return goslack.NewSectionBlock(mrkdwn(clip(text, maxSectionLen)), nil, nil)
}

func plain(s string) *goslack.TextBlockObject {
	return goslack.NewTextBlockObject(goslack.PlainTextType, s, false, false)
}

func mrkdwn(s string) *goslack.TextBlockObject {
	return goslack.NewTextBlockObject(goslack.MarkdownType, s, false, false)
}

func clock(t time.Time) string { return t.UTC().Format("15:04 UTC") }

// esc escapes the three characters Slack's mrkdwn reserves, so a name or a
// reason cannot turn into a link or a mention.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
