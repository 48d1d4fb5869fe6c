package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/runbookhq/runbook/internal/zones"
	"github.com/runbookhq/runbook/runbooks"
	"go.temporal.io/sdk/workflow"
)

// windowHorizon bounds the search for the next opening; a window closed for
// longer than this is almost certainly a mistake in the runbook.
const windowHorizon = 400

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// NextOpening returns the earliest instant at or after now when the window is
// open (now itself when it is open), and, when closed, a sentence saying why.
// It is a pure function of its arguments, so workflows may call it: the
// zone comes from the database compiled into the binary (internal/zones),
// not the host's, so every worker decides the same.
func NextOpening(now time.Time, w runbooks.ReleaseWindow) (time.Time, string, error) {
	loc, err := zones.Load(w.Timezone)
	if err != nil {
		return time.Time{}, "", err
	}
	startMin, err := clockMinutes(w.Start, 0)
	if err != nil {
		return time.Time{}, "", err
	}
	endMin, err := clockMinutes(w.End, 24*60)
	if err != nil {
		return time.Time{}, "", err
	}
	local := now.In(loc)
	for n := 0; n < windowHorizon; n++ {
		// Noon exists on every day, also on days with a DST change.
		d := time.Date(local.Year(), local.Month(), local.Day()+n, 12, 0, 0, 0, loc)
		if !dayAllowed(d, w.Days) || inBlackout(d, w.Blackouts) {
			continue
		}
		// Wall-clock times of that day; 24:00 normalises to the next midnight.
		open := time.Date(d.Year(), d.Month(), d.Day(), startMin/60, startMin%60, 0, 0, loc)
		closeAt := time.Date(d.Year(), d.Month(), d.Day(), endMin/60, endMin%60, 0, 0, loc)
		if !now.Before(closeAt) {
			continue
		}
		if !now.Before(open) {
			return now, "", nil
		}
		return open, closedReason(local, w), nil
	}
	return time.Time{}, "", fmt.Errorf("the window does not open in the next %d days; check days and blackouts", windowHorizon)
}

func clockMinutes(hhmm string, def int) (int, error) {
	if hhmm == "" {
		return def, nil
	}
	var h, m int
	if _, err := fmt.Sscanf(hhmm, "%d:%d", &h, &m); err != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("time %q is not HH:MM", hhmm)
	}
	return h*60 + m, nil
}

func dayAllowed(d time.Time, days []string) bool {
	if len(days) == 0 {
		return true
	}
	for _, s := range days {
		if wd, ok := weekdays[strings.ToLower(s)]; ok && wd == d.Weekday() {
			return true
		}
	}
	return false
}

func inBlackout(d time.Time, bs []runbooks.Blackout) bool {
	_, ok := blackoutOn(d, bs)
	return ok
}

// blackoutOn returns the blackout that covers day d, if any.
func blackoutOn(d time.Time, bs []runbooks.Blackout) (runbooks.Blackout, bool) {
	date := d.Format("2006-01-02")
	for _, b := range bs {
		if b.LastBusinessDays > 0 {
			if !d.Before(nthLastBusinessDay(d, b.LastBusinessDays)) {
				return b, true
			}
			continue
		}
		if date >= b.From && date <= b.To {
			return b, true
		}
	}
	return runbooks.Blackout{}, false
}

// nthLastBusinessDay is the start (noon) of the n-th last Monday-to-Friday
// of d's month; a close runs from there to the month's end, weekend included.
func nthLastBusinessDay(d time.Time, n int) time.Time {
	day := time.Date(d.Year(), d.Month()+1, 0, 12, 0, 0, 0, d.Location()) // the month's last day
	for {
		if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
			if n--; n == 0 {
				return day
			}
		}
		day = day.AddDate(0, 0, -1)
	}
}

// closedReason explains, in the window's own terms, why it is closed now.
func closedReason(local time.Time, w runbooks.ReleaseWindow) string {
	noon := time.Date(local.Year(), local.Month(), local.Day(), 12, 0, 0, 0, local.Location())
	if b, ok := blackoutOn(noon, w.Blackouts); ok {
		what := fmt.Sprintf("blackout %s..%s", b.From, b.To)
		if b.LastBusinessDays > 0 {
			what = fmt.Sprintf("blackout: the last %d business days of the month", b.LastBusinessDays)
		}
		if b.Reason != "" {
			what += " (" + b.Reason + ")"
		}
		return what
	}
	days := "every day"
	if len(w.Days) > 0 {
		days = strings.Join(w.Days, ",")
	}
	start, end := w.Start, w.End
	if start == "" {
		start = "00:00"
	}
	if end == "" {
		end = "24:00"
	}
	tz := w.Timezone
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("outside the release window (%s %s-%s %s)", days, start, end, tz)
}

// windowKind is the built-in release-window step.
type windowKind struct{}

// run waits, on a durable timer, until the release window is open.
func (k *windowKind) run(ctx workflow.Context, e *environment, i int) error {
	waited, err := e.holdForWindow(ctx, i)
	if err != nil {
		return err
	}
	e.status.Steps[i].Detail = "window open"
	if waited {
		e.status.Steps[i].Detail = "window opened at " + workflow.Now(ctx).UTC().Format(time.RFC3339)
	}
	return nil
}
