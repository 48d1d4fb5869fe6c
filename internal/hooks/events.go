package hooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Event is one delivery's fact a trigger can start on, after its signature
// was checked.
type Event struct {
	Source string
	// DeliveryID identifies the delivery (GitHub's X-GitHub-Delivery,
	// GitLab's Idempotency-Key or X-Gitlab-Event-UUID, an OCI event's id).
	DeliveryID string
	Repository string
	// Kind is EventTag or EventRelease.
	Kind  string
	Tag   string
	Actor string
	// Digest is the pushed manifest's digest (oci only).
	Digest string
}

// Detail is the event in a few words, for the release's trigger.
func (e Event) Detail() string {
	var s string
	switch {
	case e.Source == SourceOCI:
		s = fmt.Sprintf("tag %s pushed (%s)", e.Tag, e.Digest)
	case e.Kind == EventRelease:
		s = "release " + e.Tag + " published"
	default:
		s = "tag " + e.Tag + " pushed"
	}
	if e.Actor != "" {
		s += " by " + e.Actor
	}
	return s
}

// errIgnored marks a verified delivery that starts nothing by design (a
// branch push, a deleted tag, a pull): it is answered 200, so the sender
// does not retry it.
var errIgnored = errors.New("ignored")

// errPing is GitHub's ping, sent when a webhook is created.
var errPing = errors.New("pong")

func ignored(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errIgnored, fmt.Sprintf(format, a...))
}

// sourceOf tells which sender a request claims to come from, by the
// headers each one sets; "" when none.
func sourceOf(h http.Header) string {
	switch {
	case h.Get("X-GitHub-Event") != "":
		return SourceGitHub
	case h.Get("X-Gitlab-Event") != "":
		return SourceGitLab
	case strings.HasPrefix(h.Get("Authorization"), "Bearer "):
		return SourceOCI
	}
	return ""
}

// verified reports whether the request carries t's secret: GitHub's
// X-Hub-Signature-256 is sha256=HMAC-SHA256(secret, body); GitLab sends the
// secret itself in X-Gitlab-Token, and a registry's notification endpoint
// sends it as "Authorization: Bearer <secret>". Every comparison is
// constant time, and an empty secret verifies nothing.
func verified(t *Trigger, h http.Header, body []byte) bool {
	if t.secret == "" {
		return false
	}
	switch t.Source {
	case SourceGitHub:
		sig, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
		got, err := hex.DecodeString(sig)
		if !ok || err != nil {
			return false
		}
		mac := hmac.New(sha256.New, []byte(t.secret))
		mac.Write(body)
		return hmac.Equal(got, mac.Sum(nil))
	case SourceGitLab:
		return equalSecret(h.Get("X-Gitlab-Token"), t.secret)
	case SourceOCI:
		tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
		return ok && equalSecret(tok, t.secret)
	}
	return false
}

// equalSecret compares in constant time, lengths included: both sides are
// hashed first, so the time does not tell how long the secret is.
func equalSecret(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return hmac.Equal(a[:], b[:])
}

// parse reads the events a verified delivery of source carries.
func parse(source string, h http.Header, body []byte) ([]Event, error) {
	switch source {
	case SourceGitHub:
		return parseGitHub(h, body)
	case SourceGitLab:
		return parseGitLab(h, body)
	default:
		return parseOCI(body)
	}
}

type githubPayload struct {
	Ref        string `json:"ref"`
	Deleted    bool   `json:"deleted"`
	Action     string `json:"action"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Release struct {
		TagName string `json:"tag_name"`
	} `json:"release"`
	Pusher struct {
		Name string `json:"name"`
	} `json:"pusher"`
	Sender struct {
		Login string `json:"login"`
	} `json:"sender"`
}

func parseGitHub(h http.Header, body []byte) ([]Event, error) {
	kind := h.Get("X-GitHub-Event")
	if kind == "ping" {
		return nil, errPing
	}
	var p githubPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("body is not a GitHub %s payload: %w", kind, err)
	}
	e := Event{Source: SourceGitHub, DeliveryID: h.Get("X-GitHub-Delivery"), Repository: p.Repository.FullName, Actor: p.Sender.Login}
	switch kind {
	case "push":
		tag, ok := strings.CutPrefix(p.Ref, "refs/tags/")
		if !ok || p.Deleted {
			return nil, ignored("push of %s is not a new tag", p.Ref)
		}
		e.Kind, e.Tag = EventTag, tag
		if p.Pusher.Name != "" {
			e.Actor = p.Pusher.Name
		}
	case "release":
		if p.Action != "published" {
			return nil, ignored("release action %s (only published starts a release)", p.Action)
		}
		e.Kind, e.Tag = EventRelease, p.Release.TagName
	default:
		return nil, ignored("GitHub event %s (push of a tag, release and ping are read)", kind)
	}
	return []Event{e}, nil
}

type gitlabPayload struct {
	Ref      string `json:"ref"`
	After    string `json:"after"`
	Action   string `json:"action"`
	Tag      string `json:"tag"`
	UserName string `json:"user_username"`
	Project  struct {
		Path string `json:"path_with_namespace"`
	} `json:"project"`
}

func parseGitLab(h http.Header, body []byte) ([]Event, error) {
	kind := h.Get("X-Gitlab-Event")
	var p gitlabPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("body is not a GitLab %s payload: %w", kind, err)
	}
	// Idempotency-Key stays the same when GitLab retries a delivery.
	id := h.Get("Idempotency-Key")
	if id == "" {
		id = h.Get("X-Gitlab-Event-UUID")
	}
	e := Event{Source: SourceGitLab, DeliveryID: id, Repository: p.Project.Path, Actor: p.UserName}
	switch kind {
	case "Tag Push Hook":
		tag, ok := strings.CutPrefix(p.Ref, "refs/tags/")
		if !ok || strings.Trim(p.After, "0") == "" {
			return nil, ignored("tag push of %s is not a new tag", p.Ref)
		}
		e.Kind, e.Tag = EventTag, tag
	case "Release Hook":
		if p.Action != "create" {
			return nil, ignored("release action %s (only create starts a release)", p.Action)
		}
		e.Kind, e.Tag = EventRelease, p.Tag
	default:
		return nil, ignored("GitLab event %s (Tag Push Hook and Release Hook are read)", kind)
	}
	return []Event{e}, nil
}

// ociEnvelope is the CNCF distribution notification envelope.
type ociEnvelope struct {
	Events []struct {
		ID     string `json:"id"`
		Action string `json:"action"`
		Target struct {
			Repository string `json:"repository"`
			Digest     string `json:"digest"`
			Tag        string `json:"tag"`
		} `json:"target"`
		Actor struct {
			Name string `json:"name"`
		} `json:"actor"`
	} `json:"events"`
}

// parseOCI returns the envelope's tag pushes; pulls, mounts and blob pushes
// (no tag) are left out.
func parseOCI(body []byte) ([]Event, error) {
	var env ociEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("body is not a registry notification envelope: %w", err)
	}
	var out []Event
	for _, ev := range env.Events {
		if ev.Action != "push" || ev.Target.Tag == "" {
			continue
		}
		out = append(out, Event{Source: SourceOCI, DeliveryID: ev.ID, Repository: ev.Target.Repository, Kind: EventTag,
			Tag: ev.Target.Tag, Digest: ev.Target.Digest, Actor: ev.Actor.Name})
	}
	if len(out) == 0 {
		return nil, ignored("no tag push among %d events", len(env.Events))
	}
	return out, nil
}
