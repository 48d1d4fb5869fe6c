package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/report"
)

// reportCmd is `runbook report`: a release, or a CAB range, as a page.
type reportCmd struct {
	a                     *app
	format, out           string
	since, until, service string
	link, train           bool
}

func newReportCmd(a *app) *cobra.Command {
	v := &reportCmd{a: a}
	cmd := &cobra.Command{
		Use:   "report [RELEASE | TRAIN]",
		Short: "Render a release, a train (or the releases of a range, for a CAB) as a self-contained HTML, Markdown or PDF page",
		Long: "report reads the release back from Temporal (its final status when it has ended, no worker needed)\n" +
			"and its records from the audit log, and renders the timeline of steps and decisions, each environment's\n" +
			"steps, the analysis charts with thresholds and traffic weights, the decisive round, the rollback, the\n" +
			"evidence (digest, signature, audit hashes and chain head) and the notes (runbook note). Without RELEASE,\n" +
			"--since (and --until, --service) list the releases started in the range, each with its section.\n" +
			"A train (train/TRAIN/NAME, or TRAIN/NAME with --train) renders its gates and who decided them, its holds,\n" +
			"each environment's services as a dependency diagram, their times on one axis, its rollbacks and why, and\n" +
			"links to each service's release report (signed when RUNBOOK_REPORTS_URL and RUNBOOK_REPORTS_TOKEN are set).\n" +
			"PDF is printed from the same HTML by a headless Chromium (Debian package chromium).",
		Example: "  runbook report checkout/3.0.0 -o review.html\n" +
			"  runbook report train/shop/2026-12-07 --format pdf -o train.pdf\n" +
			"  runbook report --since 7d --service checkout --format md -o cab.md\n" +
			"  runbook report dora --service checkout --since 90d -o dora.html",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return v.runRelease(cmd.Context(), args[0])
			}
			return v.runRange(cmd.Context())
		},
	}
	fl := cmd.Flags()
	v.register(fl)
	fl.StringVar(&v.since, "since", "", "with no RELEASE: releases started from this time on (RFC 3339, a date, or an age such as 7d)")
	fl.StringVar(&v.until, "until", "", "with no RELEASE: releases started before this time (same forms; default now)")
	fl.StringVar(&v.service, "service", "", "with no RELEASE: only this service")
	fl.BoolVar(&v.link, "link", false, "print a signed link to the release's report on the worker ($RUNBOOK_REPORTS_URL, $RUNBOOK_REPORTS_TOKEN) instead of rendering")
	fl.BoolVar(&v.train, "train", false, "the argument is a train run, TRAIN/NAME (train/TRAIN/NAME is recognised without it)")
	cmd.AddCommand(newReportDORACmd(a))
	return cmd
}

// register adds the output flags every report verb shares.
func (v *reportCmd) register(fl interface {
	StringVarP(p *string, name, shorthand, value, usage string)
}) {
	fl.StringVarP(&v.format, "format", "f", "html", "html, md or pdf")
	fl.StringVarP(&v.out, "output-file", "o", "", "write to this file (default standard output)")
}

func (v *reportCmd) runRelease(ctx context.Context, id string) error {
	if v.train {
		return v.runTrain(ctx, report.TrainIDOf(id))
	}
	id = releases.NormalizeID(id)
	if report.IsTrainID(id) {
		return v.runTrain(ctx, id)
	}
	if v.link {
		return v.printLink(id)
	}
	if err := v.checkFormat(); err != nil {
		return err
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		return v.a.withAuditReader(ctx, func(log audit.Reader) error {
			r, err := report.Gather(ctx, rc, log, id, time.Now())
			if err != nil {
				return err
			}
			return v.emit(ctx, report.ReleasePage(r))
		})
	})
}

// runTrain renders train id, each service's release linked to its report
// on the worker when this CLI can sign links.
func (v *reportCmd) runTrain(ctx context.Context, id string) error {
	if v.link {
		return v.printLinkTo(report.TrainLinkPath(id))
	}
	if err := v.checkFormat(); err != nil {
		return err
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		return v.a.withAuditReader(ctx, func(log audit.Reader) error {
			r, err := report.GatherTrain(ctx, rc, log, id, time.Now())
			if err != nil {
				return err
			}
			r.Link = func(release string) string {
				link, _ := signedLink(report.PathRelease + release)
				return link
			}
			return v.emit(ctx, report.TrainPage(r))
		})
	})
}

// runRange renders the releases started between --since and --until.
func (v *reportCmd) runRange(ctx context.Context) error {
	if v.since == "" {
		return errors.New("give a RELEASE, or --since (and --until, --service) for the releases of a range")
	}
	if err := v.checkFormat(); err != nil {
		return err
	}
	now := time.Now()
	since, until, err := window(v.since, v.until, now)
	if err != nil {
		return err
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		items, err := rc.List(ctx, releases.ListFilter{Service: v.service, Limit: 1000})
		if err != nil {
			return err
		}
		return v.a.withAuditReader(ctx, func(log audit.Reader) error {
			var reps []report.Report
			for _, it := range slices.Backward(items) {
				if it.StartedAt.Before(since) || !it.StartedAt.Before(until) {
					continue
				}
				r, err := report.Gather(ctx, rc, log, it.ReleaseID, now)
				if err != nil {
					return fmt.Errorf("%s: %w", it.ReleaseID, err)
				}
				reps = append(reps, r)
			}
			title := "Releases"
			if v.service != "" {
				title += " of " + v.service
			}
			return v.emit(ctx, report.RangePage(title, since, until, reps, now))
		})
	})
}

func (v *reportCmd) checkFormat() error {
	switch v.format {
	case "html", "md", "pdf":
		return nil
	}
	return fmt.Errorf("--format %q: use html, md or pdf", v.format)
}

// emit renders p in the chosen format to -o or standard output.
func (v *reportCmd) emit(ctx context.Context, p report.Page) error {
	var buf bytes.Buffer
	var err error
	switch v.format {
	case "md":
		err = report.WriteMarkdown(&buf, p)
	case "pdf":
		err = report.WriteHTML(&buf, p)
		if err == nil {
			var pdf []byte
			pdf, err = printPDF(ctx, buf.Bytes())
			buf.Reset()
			buf.Write(pdf)
		}
	default:
		err = report.WriteHTML(&buf, p)
	}
	if err != nil {
		return err
	}
	if v.out == "" {
		_, err = v.a.out.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(v.out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(v.a.errOut, "%s written (%d bytes)\n", v.out, buf.Len())
	return nil
}

// printLink prints a signed link to the worker's report of id.
func (v *reportCmd) printLink(id string) error {
	return v.printLinkTo(report.PathRelease + releases.NormalizeID(id))
}

// printLinkTo prints a signed link to the worker's report at path.
func (v *reportCmd) printLinkTo(path string) error {
	link, err := signedLink(path)
	if err != nil {
		return err
	}
	if link == "" {
		return fmt.Errorf("--link needs %s (the worker's token reference) and %s (where people reach the worker)", report.EnvToken, report.EnvURL)
	}
	fmt.Fprintln(v.a.out, link)
	return nil
}

// reportLink is a signed link to the worker's report of release id, ""
// when RUNBOOK_REPORTS_TOKEN or RUNBOOK_REPORTS_URL is unset here.
func reportLink(id string) (string, error) {
	return signedLink(report.PathRelease + releases.NormalizeID(id))
}

// workerReportLink is the signed link to the report of a release or a
// train, "" when this CLI cannot sign one (the Web UI's details then name
// the command only).
func workerReportLink(id string) string {
	path := report.PathRelease + id
	if report.IsTrainID(id) {
		path = report.TrainLinkPath(id)
	}
	link, _ := signedLink(path)
	return link
}

// signedLink is a signed link to the worker's page at path, "" when
// RUNBOOK_REPORTS_TOKEN or RUNBOOK_REPORTS_URL is unset here.
func signedLink(path string) (string, error) {
	tok, err := report.LoadToken(os.Getenv)
	if err != nil {
		return "", err
	}
	base := strings.TrimRight(os.Getenv(report.EnvURL), "/")
	if tok == nil || base == "" {
		return "", nil
	}
	return base + report.SignLink(tok, path, time.Now().Add(report.DefaultLinkTTL)), nil
}

// reportDORACmd is `runbook report dora`.
type reportDORACmd struct {
	reportCmd
	env string
}

func newReportDORACmd(a *app) *cobra.Command {
	v := &reportDORACmd{reportCmd: reportCmd{a: a}}
	cmd := &cobra.Command{
		Use:   "dora",
		Short: "Render the four DORA metrics of a service over time (weekly), with charts",
		Long:  "report dora renders the four DORA metrics of a service week by week from its closed releases.\n" + retentionHelp,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	fl := cmd.Flags()
	v.register(fl)
	fl.StringVar(&v.service, "service", "", "the service (required)")
	fl.StringVar(&v.env, "environment", "production", "the environment the metrics are computed in")
	fl.StringVar(&v.since, "since", "90d", "from this time on (RFC 3339, a date, or an age such as 90d)")
	fl.StringVar(&v.until, "until", "", "until this time (default now)")
	return cmd
}

func (v *reportDORACmd) run(ctx context.Context) error {
	if v.service == "" {
		return errors.New("--service is required")
	}
	if err := v.checkFormat(); err != nil {
		return err
	}
	now := time.Now()
	since, until, err := window(v.since, v.until, now)
	if err != nil {
		return err
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		warnRetention(ctx, v.a.errOut, rc, since, now)
		sts, err := rc.Finished(ctx, v.service, until)
		if err != nil {
			return err
		}
		return v.emit(ctx, report.DORAReportPage(report.BuildDORA(v.service, v.env, since, until, sts), now))
	})
}

// window is the time range --since and --until give (--until default now).
func window(sinceFlag, untilFlag string, now time.Time) (since, until time.Time, err error) {
	if since, err = parseWhen("--since", sinceFlag, now); err != nil {
		return since, until, err
	}
	until = now
	if untilFlag != "" {
		until, err = parseWhen("--until", untilFlag, now)
	}
	return since, until, err
}
