package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
)

//go:embed report.html.tmpl
var pageTemplate string

//go:embed train.html.tmpl
var trainTemplate string

// Page is one document: a release, a CAB range of releases, a train, or
// a DORA page.
type Page struct {
	Title    string
	Subtitle string
	// Releases are rendered one section each; a range lists them first.
	Releases []Report
	// Range is set for a CAB page: the list at the top.
	Range bool
	// DORA is set for a DORA page.
	DORA *DORAPage
	// Train is set for a train's page.
	Train *TrainReport
	// Generated is when the page was made.
	Generated time.Time
}

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"when":          when,
	"dur":           func(d time.Duration) string { return d.String() },
	"short":         shortHash,
	"anchor":        anchorOf,
	"decision":      isDecision,
	"lines":         func(s string) []string { return strings.Split(s, "\n") },
	"mul100":        func(v float64) float64 { return 100 * v },
	"span":          span,
	"trainEnv":      func(r *TrainReport, e TrainEnvReport) trainEnvView { return trainEnvView{Report: r, Env: e} },
	"cellLink":      cellLink,
	"trainDecision": isTrainDecision,
	"releaseLink": func(r *TrainReport, id string) releaseLink {
		return releaseLink{ID: id, Href: r.ReleaseLink(id)}
	},
}).Parse(pageTemplate + trainTemplate))

// WriteHTML renders p as one self-contained HTML document: inline CSS and
// SVG, no script and nothing loaded from elsewhere, so it can be mailed,
// archived with the CAB minutes, or printed to PDF as it is.
func WriteHTML(w io.Writer, p Page) error {
	return tmpl.Execute(w, p)
}

// ReleasePage is the page of one release.
func ReleasePage(r Report) Page {
	st := r.Status
	return Page{
		Title:     fmt.Sprintf("Release report: %s %s", st.Service, st.Version),
		Subtitle:  st.ReleaseID,
		Releases:  []Report{r},
		Generated: r.Generated,
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func shortHash(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// anchorOf makes an element ID from a release ID.
func anchorOf(id string) string {
	return "r-" + strings.NewReplacer("/", "-", ".", "_", " ", "_").Replace(id)
}

// isDecision reports whether an entry is a person's decision, which the
// timeline highlights.
func isDecision(e audit.Entry) bool {
	return e.Channel != "" || (e.Actor != "" && e.Actor != "runbook")
}
