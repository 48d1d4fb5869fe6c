package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

// Path is where the worker serves webhook deliveries.
const Path = "/hooks/release"

// MaxBody bounds a delivery's body. GitHub caps payloads at 25 MB, but a
// tag push or release payload is a few kilobytes, and the body must be read
// whole before its signature can be checked.
const MaxBody = 1 << 20

// startTimeout bounds the starts of one delivery: a few Temporal calls
// each, well inside the worker's one-minute write limit.
const startTimeout = 30 * time.Second

// Result is what starting one trigger for one event did.
type Result struct {
	ReleaseID string
	// Duplicate is set when the delivery was seen before: nothing started.
	Duplicate bool
}

// Starter starts the release a trigger maps an event to.
type Starter interface {
	Start(ctx context.Context, t *Trigger, e Event) (Result, error)
}

// Handler serves POST /hooks/release.
type Handler struct {
	File    *File
	Starter Starter
}

var deliveryRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// ServeHTTP verifies the delivery, then starts what it triggers and answers
// at once: the release runs on, its status is `runbook status`.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	src := sourceOf(r.Header)
	var candidates []*Trigger
	for i := range h.File.Triggers {
		t := &h.File.Triggers[i]
		if t.Source == src && verified(t, r.Header, body) {
			candidates = append(candidates, t)
		}
	}
	if len(candidates) == 0 {
		// Nothing says which check failed or which triggers exist.
		slog.Warn("hooks: delivery refused: no trigger's secret verifies it", "source", src, "remote", r.RemoteAddr)
		http.Error(w, "signature does not match", http.StatusUnauthorized)
		return
	}
	events, err := parse(src, r.Header, body)
	switch {
	case errors.Is(err, errPing):
		fmt.Fprintln(w, "pong")
		return
	case errors.Is(err, errIgnored):
		fmt.Fprintln(w, err)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// A sender that hangs up must not cut a start between the release and
	// its delivery record; startTimeout still bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), startTimeout)
	defer cancel()
	code, lines := h.startAll(ctx, candidates, events)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// startAll starts every trigger each event matches. The answer is 202 when
// something started, 400 for an event without a usable delivery ID, 409
// when a start was refused and nothing started, else 200 (duplicates and
// events no trigger matches).
func (h *Handler) startAll(ctx context.Context, candidates []*Trigger, events []Event) (int, []string) {
	code := http.StatusOK
	var lines []string
	started, refused := false, false
	for _, e := range events {
		if !deliveryRe.MatchString(e.DeliveryID) {
			return http.StatusBadRequest, []string{fmt.Sprintf("delivery ID %q missing or not [A-Za-z0-9._:-]{1,128}", e.DeliveryID)}
		}
		matched := false
		for _, t := range candidates {
			if !t.matches(e) {
				continue
			}
			matched = true
			res, err := h.Starter.Start(ctx, t, e)
			switch {
			case err != nil:
				refused = true
				lines = append(lines, fmt.Sprintf("trigger %s: refused: %v", t.Name, err))
				slog.Warn("hooks: release not started", "trigger", t.Name, "delivery", e.DeliveryID, "error", err)
			case res.Duplicate:
				lines = append(lines, fmt.Sprintf("trigger %s: duplicate delivery %s, nothing started", t.Name, e.DeliveryID))
				slog.Info("hooks: duplicate delivery", "trigger", t.Name, "delivery", e.DeliveryID)
			default:
				started = true
				lines = append(lines, fmt.Sprintf("trigger %s: started %s", t.Name, res.ReleaseID))
				slog.Info("hooks: release started", "trigger", t.Name, "delivery", e.DeliveryID, "release", res.ReleaseID)
			}
		}
		if !matched {
			lines = append(lines, fmt.Sprintf("ignored: no trigger for %s %s %s of %s", e.Source, e.Kind, e.Tag, e.Repository))
		}
	}
	switch {
	case started:
		code = http.StatusAccepted
	case refused:
		code = http.StatusConflict
	}
	return code, lines
}

// matches reports whether t starts on e: same repository (GitHub and
// GitLab compare names without case, as they do), a wanted event and a tag
// matching the glob.
func (t *Trigger) matches(e Event) bool {
	if t.Source == SourceOCI {
		if t.Repository != e.Repository {
			return false
		}
	} else if !strings.EqualFold(t.Repository, e.Repository) || !t.wantsEvent(e.Kind) {
		return false
	}
	ok, _ := path.Match(t.Tags, e.Tag)
	return ok && e.Tag != ""
}
