package worker

import (
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/report"
)

// reportsSetup is the worker's report pages (GET /reports/release/{id},
// /reports/train/{id} and /reports/dora), or nil when RUNBOOK_REPORTS_TOKEN is unset: reports show
// who decided what and the audit hashes, so they are never served without
// a token, and the log says so.
func reportsSetup(cfg Config, c client.Client, log audit.Reader) (*report.Server, error) {
	tok, err := report.LoadToken(os.Getenv)
	if err != nil {
		return nil, err
	}
	if tok == nil {
		slog.Info("reports: not served, " + report.EnvToken + " is unset (reports are never served without a token)")
		return nil, nil
	}
	rc := ReleasesClient(c, cfg, nil)
	slog.Info("reports: serving with bearer token or signed links", "paths", report.PathRelease+"{id} "+report.PathTrain+"{id} "+report.PathDORA)
	return &report.Server{Token: tok, Releases: rc, Trains: rc, Finished: rc, Log: log}, nil
}

// registerReports adds the report routes when they are served.
func registerReports(mux *http.ServeMux, s *report.Server) {
	if s != nil {
		s.Register(mux)
	}
}

// reportLinks signs links to release reports for the Slack gate message
// (the worker holds the token, so the link is made in the activity), or
// is nil when the worker serves no reports or does not know where people
// reach it (RUNBOOK_REPORTS_URL).
func reportLinks(s *report.Server, base string) func(string) string {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	if s == nil || base == "" {
		return nil
	}
	return func(id string) string {
		return base + report.SignLink(s.Token, report.PathRelease+id, time.Now().Add(report.DefaultLinkTTL))
	}
}
