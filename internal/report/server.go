package report

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// PathRelease and PathDORA (and PathTrain) are where the worker serves
// reports.
const (
	PathRelease = "/reports/release/"
	PathDORA    = "/reports/dora"
)

// Finished lists a service's finished releases until a time, for DORA.
type Finished interface {
	Finished(ctx context.Context, service string, until time.Time) ([]workflows.ReleaseStatus, error)
}

// Server serves reports to people holding the token or a signed link.
type Server struct {
	Token    []byte
	Releases Releases
	// Trains reads trains; nil serves no train reports.
	Trains   Trains
	Finished Finished
	Log      audit.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Register adds the report routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("GET "+PathRelease+"{id...}", s.auth(s.release))
	mux.Handle("GET "+PathDORA, s.auth(s.dora))
	if s.Trains != nil {
		mux.Handle("GET "+PathTrain+"{id...}", s.auth(s.train))
	}
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// auth refuses a request without the token or a valid signed link, with
// nothing about the report in the answer.
func (s *Server) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Authorized(s.Token, r.URL, r.Header.Get("Authorization"), s.now()) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="runbook reports"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <RUNBOOK_REPORTS_TOKEN> or open a signed link", http.StatusUnauthorized)
			return
		}
		next(w, r)
	})
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rep, err := Gather(r.Context(), s.Releases, s.Log, id, s.now())
	if err != nil {
		slog.Warn("report: release not readable", "release", id, "error", err)
		http.Error(w, "no report for "+id+": the release could not be read back (see the worker's log)", http.StatusNotFound)
		return
	}
	s.write(w, ReleasePage(rep))
}

// train serves a train's page; its services' releases link to their own
// reports with links signed here, since the browser holds no token.
func (s *Server) train(w http.ResponseWriter, r *http.Request) {
	id := TrainIDOf(r.PathValue("id"))
	rep, err := GatherTrain(r.Context(), s.Trains, s.Log, id, s.now())
	if err != nil {
		slog.Warn("report: train not readable", "train", id, "error", err)
		http.Error(w, "no report for "+id+": the train could not be read back (see the worker's log)", http.StatusNotFound)
		return
	}
	exp := s.now().Add(DefaultLinkTTL)
	rep.Link = func(release string) string { return SignLink(s.Token, PathRelease+release, exp) }
	s.write(w, TrainPage(rep))
}

func (s *Server) dora(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	service, env := q.Get("service"), q.Get("environment")
	if service == "" {
		http.Error(w, "service= is required", http.StatusBadRequest)
		return
	}
	if env == "" {
		env = "production"
	}
	age := 90 * 24 * time.Hour
	if v := q.Get("since"); v != "" {
		d, err := runbooks.ParseDuration(v)
		if err != nil || d <= 0 {
			http.Error(w, "since= is an age such as 90d", http.StatusBadRequest)
			return
		}
		age = time.Duration(d)
	}
	until := s.now()
	since := until.Add(-age)
	sts, err := s.Finished.Finished(r.Context(), service, until)
	if err != nil {
		slog.Warn("report: DORA not readable", "service", service, "error", err)
		http.Error(w, "the releases of "+service+" could not be read (see the worker's log)", http.StatusBadGateway)
		return
	}
	s.write(w, DORAReportPage(BuildDORA(service, env, since, until, sts), s.now()))
}

// write renders the page before sending anything, so a template error is
// a 500, not half a page.
func (s *Server) write(w http.ResponseWriter, p Page) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, p); err != nil {
		slog.Error("report: render", "error", err)
		http.Error(w, "the report could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page needs nothing from anywhere: say so, so an injected
	// element could not load or run anything either.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
