package runbooks

import (
	"fmt"
	"regexp"
	"time"

	"github.com/runbookhq/runbook/internal/zones"
)

var (
	startRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	endRe   = regexp.MustCompile(`^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$`)
)

// weekdays are the day names a release window accepts, in week order.
var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// releaseWindow checks a release window. The workflow computes openings
// from it deterministically, so everything it needs must be valid here:
// a bad zone or time found mid-release would block the environment.
func (v *validator) releaseWindow(path string, w *ReleaseWindow) {
	tz := path + ".timezone"
	switch {
	case w.Timezone == "":
	case w.Timezone == "Local":
		// Local is whatever zone the worker's machine has: two workers
		// could disagree about whether the window is open.
		v.errf(tz, "timezone Local depends on the machine; name the zone, e.g. UTC or Europe/Berlin")
	default:
		// The same database the workflows decide with (internal/zones).
		if _, err := zones.Load(w.Timezone); err != nil {
			v.errf(tz, "unknown time zone %q; use an IANA name such as UTC or Europe/Berlin", w.Timezone)
		}
	}
	if oc := path + ".on-closed"; v.ok(oc) && w.OnClosed != "" && w.OnClosed != OnClosedWait && w.OnClosed != OnClosedFail {
		v.errf(oc, "on-closed %q is not known; use wait (hold until the window opens) or fail (stop the release)", w.OnClosed)
	}
	v.days(path+".days", w.Days)
	v.clock(path, w.Start, w.End)
	for i := range w.Blackouts {
		if p := fmt.Sprintf("%s.blackouts[%d]", path, i); v.ok(p) {
			v.blackout(p, &w.Blackouts[i])
		}
	}
}

// days checks the weekday list.
func (v *validator) days(path string, days []string) {
	if v.set(path) && len(days) == 0 {
		v.errf(path, "days is empty; list weekdays (mon, tue, wed, thu, fri, sat, sun) or leave it out for every day")
		return
	}
	seen := map[string]bool{}
	for i, d := range days {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case !v.ok(p):
		case !contains(weekdays, d):
			v.errf(p, "%q is not a day; use mon, tue, wed, thu, fri, sat or sun", d)
		case seen[d]:
			v.errf(p, "day %q is listed twice", d)
		default:
			seen[d] = true
		}
	}
}

// clock checks the daily opening hours. Windows do not wrap past
// midnight: the end must come after the start on the same day.
func (v *validator) clock(path, start, end string) {
	startOK := start == "" || startRe.MatchString(start)
	if !startOK {
		v.errf(path+".start", "start %q is not a time of day; write HH:MM from 00:00 to 23:59", start)
	}
	endOK := end == "" || endRe.MatchString(end)
	if !endOK {
		v.errf(path+".end", "end %q is not a time of day; write HH:MM from 00:01 to 24:00", end)
	}
	if !startOK || !endOK {
		return
	}
	s, e := minutes(start, 0), minutes(end, 24*60)
	if s >= e {
		v.errf(path+".end", "the window ends at %s but opens at %s; end must be later than start on the same day (use 24:00 for midnight)", orDefault(end, "24:00"), orDefault(start, "00:00"))
	}
}

// minutes converts an already validated HH:MM to minutes after midnight.
func minutes(hhmm string, def int) int {
	if hhmm == "" {
		return def
	}
	return int(hhmm[0]-'0')*600 + int(hhmm[1]-'0')*60 + int(hhmm[3]-'0')*10 + int(hhmm[4]-'0')
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// blackout checks one blackout period.
func (v *validator) blackout(path string, b *Blackout) {
	if b.LastBusinessDays != 0 || (b.From == "" && b.To == "" && v.has(path+".last-business-days")) {
		switch {
		case b.From != "" || b.To != "":
			v.errf(path+".last-business-days", "a blackout is either dates (from, to) or last-business-days, not both; split it in two")
		case b.LastBusinessDays < 1 || b.LastBusinessDays > 10:
			v.errf(path+".last-business-days", "last-business-days %d is out of range; use 1 to 10", b.LastBusinessDays)
		}
		return
	}
	fromOK := v.date(path+".from", "blackout from", b.From)
	toOK := v.date(path+".to", "blackout to", b.To)
	// Dates in this form order like strings.
	if fromOK && toOK && b.From > b.To {
		v.errf(path+".to", "the blackout ends (to %s) before it starts (from %s)", b.To, b.From)
	}
}

// date checks a required YYYY-MM-DD date.
func (v *validator) date(path, what, s string) bool {
	if !v.required(path, what, s, "add a date like 2025-12-24") {
		return false
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		v.errf(path, "%s %q is not a date; write YYYY-MM-DD, e.g. 2025-12-24", what, s)
		return false
	}
	return true
}
