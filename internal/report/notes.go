package report

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/runbookhq/runbook/activities/audit"
)

// ActionNote is the audit action of a retrospective note.
const ActionNote = "release.note"

// linkPrefix starts each link line of a note's audit detail: the detail
// stays readable in `runbook audit show` and CSV exports, and the links
// can be read back.
const linkPrefix = "\nlink: "

// MaxNote bounds a note's text; a review note is a paragraph, not a file.
const MaxNote = 4000

// Note is a retrospective note on a release: an incident, a ticket,
// customer feedback, attached after the fact.
type Note struct {
	Time     time.Time
	Actor    string
	Identity string
	Text     string
	Links    []string
}

// CheckLink accepts absolute http and https URLs only: a link in a report
// is clicked by people, and javascript: or data: URLs must never get there.
func CheckLink(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("link %q: %v", raw, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("link %q: only absolute http:// or https:// links are accepted", raw)
	}
	if strings.ContainsAny(raw, " \n\r\t") {
		return fmt.Errorf("link %q: contains white space", raw)
	}
	return nil
}

// NoteInput is what `runbook note` records.
type NoteInput struct {
	Release, Service, Version string
	Text                      string
	Links                     []string
	Actor, Identity           string
	Time                      time.Time
}

// NoteEntry is the audit entry of a note. Its ID is derived from the
// release, the time and the content, so a retried append writes it once.
func NoteEntry(in NoteInput) (audit.Entry, error) {
	text := strings.TrimSpace(in.Text)
	switch {
	case text == "":
		return audit.Entry{}, errors.New("the note is empty")
	case utf8.RuneCountInString(text) > MaxNote:
		return audit.Entry{}, fmt.Errorf("the note has %d characters; at most %d (link to a document for more)", utf8.RuneCountInString(text), MaxNote)
	case strings.Contains(text, linkPrefix):
		return audit.Entry{}, errors.New("a line of the note starts with \"link: \": pass links with --link")
	}
	detail := text
	for _, l := range in.Links {
		if err := CheckLink(l); err != nil {
			return audit.Entry{}, err
		}
		detail += linkPrefix + l
	}
	at := in.Time.UTC()
	sum := sha256.Sum256([]byte(in.Release + "\x00" + at.Format(time.RFC3339Nano) + "\x00" + in.Actor + "\x00" + detail))
	return audit.Entry{
		ID:       "note/" + in.Release + "/" + hex.EncodeToString(sum[:8]),
		Time:     at,
		Actor:    in.Actor,
		Action:   ActionNote,
		Release:  in.Release,
		Service:  in.Service,
		Version:  in.Version,
		Detail:   detail,
		Channel:  "cli",
		Identity: in.Identity,
	}, nil
}

// NoteOf reads a note back from its audit entry.
func NoteOf(e audit.Entry) Note {
	n := Note{Time: e.Time, Actor: e.Actor, Identity: e.Identity}
	text, rest, _ := strings.Cut(e.Detail, linkPrefix)
	n.Text = text
	if rest != "" {
		n.Links = strings.Split(rest, linkPrefix)
	}
	return n
}
