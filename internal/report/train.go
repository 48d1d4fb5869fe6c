package report

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/workflows"
)

// PathTrain is where the worker serves train reports.
const PathTrain = "/reports/train/"

// Trains is the part of releases.Client a train report reads.
type Trains interface {
	// TrainStatus asks the train (needs a worker to answer the query).
	TrainStatus(ctx context.Context, id string) (workflows.TrainStatus, error)
	// TrainWait returns a finished train's final status from its result,
	// which needs no worker.
	TrainWait(ctx context.Context, id string) (workflows.TrainStatus, error)
}

// TrainReport is everything one train's page shows.
type TrainReport struct {
	Status workflows.TrainStatus
	// Timeline is the train's own audit records in log order (its
	// services' releases have their own reports, linked from each cell).
	Timeline     []audit.Entry
	Environments []TrainEnvReport
	// Gantt is the services' run times on one time axis.
	Gantt Gantt
	// Chain is the whole log's verification; ChainError is set when it
	// did not verify.
	Chain      audit.VerifyResult
	ChainError string
	Generated  time.Time
	Warnings   []string
	// Link returns the address of a release's report ("" for none): a
	// signed link on the worker, or one the CLI could sign.
	Link func(releaseID string) string `json:"-"`
}

// TrainEnvReport is one environment of the train.
type TrainEnvReport struct {
	Env workflows.TrainEnvironment
	// Holds are the train.held and train.unheld records: what kept the
	// train out and when it could enter.
	Holds []audit.Entry
	// Decisions are the train gates' decisions, with how each person was
	// verified and the channel they decided through.
	Decisions []GateDecision
	// Events are the services' starts and ends, rollbacks and an abort.
	Events []audit.Entry
	// DAG is the services' dependency diagram with each cell's state.
	DAG DAG
}

// GateDecision is one person's decision at a train gate.
type GateDecision struct {
	Gate     string
	Decision string
	Actor    string
	At       time.Time
	Verified string
	Channel  string
	Comment  string
}

// ReleaseLink is the report address of a release, "" when there is none.
func (r TrainReport) ReleaseLink(id string) string {
	if r.Link == nil || id == "" {
		return ""
	}
	return r.Link(id)
}

// Duration is how long the train ran (until now while it runs).
func (r TrainReport) Duration() time.Duration {
	st := r.Status
	end := st.EndedAt
	if end.IsZero() {
		end = r.Generated
	}
	if st.StartedAt.IsZero() {
		return 0
	}
	return end.Sub(st.StartedAt).Round(time.Second)
}

// IsTrainID reports whether id names a train run (train/<train>/<name>)
// rather than a release, including a train cell's release
// (train/<train>/<name>/<service>/<env>), which is a release.
func IsTrainID(id string) bool {
	rest, ok := strings.CutPrefix(id, "train/")
	return ok && strings.Count(rest, "/") == 1
}

// GatherTrain reads train id back from Temporal and the audit log. A
// finished train is read from its result when no worker answers the
// status query, like a release.
func GatherTrain(ctx context.Context, ts Trains, log audit.Reader, id string, now time.Time) (TrainReport, error) {
	st, err := ts.TrainStatus(ctx, id)
	if err != nil {
		wctx, cancel := context.WithTimeout(ctx, resultWait)
		fin, werr := ts.TrainWait(wctx, id)
		cancel()
		if werr != nil {
			return TrainReport{}, err
		}
		st = fin
	}
	entries, chainErr := log.Read(ctx, audit.Filter{Release: st.TrainID})
	var ce *audit.ChainError
	if chainErr != nil && !errors.As(chainErr, &ce) {
		return TrainReport{}, fmt.Errorf("read the audit log %s: %w", log, chainErr)
	}
	chain, verr := log.Verify(ctx)
	if chainErr == nil && verr != nil {
		chainErr = verr
	}
	return BuildTrain(st, entries, chain, chainErr, now), nil
}

// BuildTrain assembles the report of st from the train's audit entries
// (in log order) and the log's verification.
func BuildTrain(st workflows.TrainStatus, entries []audit.Entry, chain audit.VerifyResult, chainErr error, now time.Time) TrainReport {
	r := TrainReport{Status: st, Timeline: entries, Chain: chain, Generated: now.UTC()}
	if chainErr != nil {
		r.ChainError = chainErr.Error()
		r.Warnings = append(r.Warnings, "the audit log did not verify: "+chainErr.Error())
	}
	if len(entries) == 0 {
		r.Warnings = append(r.Warnings, "the audit log has no entries for this train: gate decisions and holds are missing")
	}
	for _, env := range st.Environments {
		r.Environments = append(r.Environments, buildTrainEnv(env, entries))
	}
	r.Gantt = BuildGantt(st, entries, r.Generated)
	return r
}

// buildTrainEnv sorts one environment's records into holds, decisions
// and service events.
func buildTrainEnv(env workflows.TrainEnvironment, entries []audit.Entry) TrainEnvReport {
	er := TrainEnvReport{Env: env, DAG: BuildDAG(env.Cells)}
	for _, e := range entries {
		if e.Environment != env.Name {
			continue
		}
		switch {
		case e.Action == "train.held" || e.Action == "train.unheld":
			er.Holds = append(er.Holds, e)
		case e.Action == "train.gate.approved" || e.Action == "train.gate.rejected":
			er.Decisions = append(er.Decisions, GateDecision{Gate: e.Step, Decision: strings.TrimPrefix(e.Action, "train.gate."),
				Actor: e.Actor, At: e.Time, Verified: e.Identity, Channel: e.Channel, Comment: e.Detail})
		case strings.HasPrefix(e.Action, "train.service.") || e.Action == "train.rollback" || e.Action == "train.aborted" || e.Action == "train.gate.waiting":
			er.Events = append(er.Events, e)
		}
	}
	if len(er.Decisions) == 0 {
		er.Decisions = decisionsOf(env.Gates)
	}
	return er
}

// decisionsOf reads the decisions from the gates' status when the audit
// log has none (a log pruned or kept elsewhere): the channel is unknown.
func decisionsOf(gates []*workflows.GateStatus) []GateDecision {
	var out []GateDecision
	for _, g := range gates {
		for _, a := range g.Approvals {
			out = append(out, GateDecision{Gate: g.Name, Decision: "approved", Actor: a.Actor, At: a.At, Verified: a.Verified, Comment: a.Comment})
		}
		if d := g.Rejection; d != nil {
			out = append(out, GateDecision{Gate: g.Name, Decision: "rejected", Actor: d.Actor, At: d.At, Verified: d.Verified, Comment: d.Comment})
		}
	}
	return out
}

// TrainPage is the page of one train.
func TrainPage(r TrainReport) Page {
	st := r.Status
	return Page{
		Title:     fmt.Sprintf("Train report: %s %s", st.Train, st.Name),
		Subtitle:  st.TrainID,
		Train:     &r,
		Generated: r.Generated,
	}
}

// trainEnvView is what the train-env template sees: the environment and
// the report (for its links).
type trainEnvView struct {
	Report *TrainReport
	Env    TrainEnvReport
}

// releaseLink is a release ID with its report's address, if any.
type releaseLink struct{ ID, Href string }

// cellLink links a cell's release, which exists only once it started.
func cellLink(r *TrainReport, c workflows.TrainCell) releaseLink {
	if c.StartedAt.IsZero() {
		return releaseLink{}
	}
	return releaseLink{ID: c.ReleaseID, Href: r.ReleaseLink(c.ReleaseID)}
}

// span is how long something ran, "—" when it has not ended.
func span(start, end time.Time) string {
	if start.IsZero() || end.IsZero() {
		return "—"
	}
	return end.Sub(start).Round(time.Second).String()
}

// TrainIDOf is the workflow ID of a train named train/<train>/<name> or
// <train>/<name>.
func TrainIDOf(id string) string {
	if strings.HasPrefix(id, "train/") {
		return id
	}
	return "train/" + id
}

// TrainLinkPath is the worker's path of train id's report.
func TrainLinkPath(id string) string {
	return PathTrain + strings.TrimPrefix(TrainIDOf(id), "train/")
}

// isTrainDecision reports whether a train record is a person's decision:
// the train writes its own records as its requester, so the actor alone
// does not tell.
func isTrainDecision(e audit.Entry) bool {
	return e.Channel != "" || e.Identity != ""
}
