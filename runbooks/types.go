// Package runbooks defines the runbook format (v1): the schema types, the
// position-aware parser, the validator and the JSON Schema for editors.
//
// A runbook is YAML. Keys are kebab-case. Every environment lists its steps in
// order; each step has a name and exactly one kind key (approval, http-check,
// provision, migrate, canary, linear, blue-green, all-at-once).
//
// The types are also the workflow input: the resolved runbook travels inside
// the Release workflow's input, so every field must marshal to JSON and back
// without loss. Fields are never removed once a release could be in flight.
package runbooks

import "time"

// APIVersion is the only runbook format version this build understands.
const APIVersion = "runbook/v1"

// Runbook is one service's release procedure: what is shipped and how it moves
// through the environments, in promotion order.
type Runbook struct {
	APIVersion   string        `yaml:"api-version" json:"api-version" jsonschema:"enum=runbook/v1,description=Format version; always runbook/v1 for now."`
	Service      string        `yaml:"service" json:"service" jsonschema:"required,pattern=^[a-z][a-z0-9-]{0\\,62}$,description=Service name; part of every workflow ID."`
	Owner        string        `yaml:"owner" json:"owner" jsonschema:"required,description=Owning team or person; shown in status and the audit log."`
	Description  string        `yaml:"description,omitempty" json:"description,omitempty" jsonschema:"description=Free text shown in the Web UI summary."`
	Artifact     Artifact      `yaml:"artifact" json:"artifact" jsonschema:"required"`
	Policy       Policy        `yaml:"policy,omitempty" json:"policy,omitempty"`
	Environments []Environment `yaml:"environments" json:"environments" jsonschema:"required,minItems=1,description=Environments in promotion order; a later one starts only after the earlier one succeeded."`
	// Waves tune the parallel groups of environments (environments[].wave).
	Waves map[string]Wave `yaml:"waves,omitempty" json:"waves,omitempty" jsonschema:"description=Limits of the waves environments name (environments[].wave): max-parallel and on-failure."`
}

// Wave is how a group of environments (regions, cells) runs in parallel.
type Wave struct {
	// MaxParallel is how many of the wave's environments run at once
	// (default all).
	MaxParallel int `yaml:"max-parallel,omitempty" json:"max-parallel,omitempty" jsonschema:"minimum=1,description=How many of the wave's environments run at once (default all)."`
	// OnFailure is stop (default: start no more of the wave once one
	// failed, let the running ones finish) or continue.
	OnFailure string `yaml:"on-failure,omitempty" json:"on-failure,omitempty" jsonschema:"enum=stop,enum=continue,description=stop (default): start no more of the wave once one failed; continue: run the rest; either way the release fails after the wave."`
}

// Wave failure rules.
const (
	WaveStop     = "stop"
	WaveContinue = "continue"
)

// Artifact names what is released and pins it by content.
type Artifact struct {
	// Reference locates the artifact. ${version} is replaced by the release
	// version. file:// and http(s):// references are verified by digest.
	Reference string `yaml:"reference" json:"reference" jsonschema:"required,description=Where the artifact lives (file:// or https://); ${version} is replaced by the release version."`
	// Digest is "sha256:<64 hex>". It may be left out here and given at deploy
	// time with --digest instead; one of the two is required.
	Digest string `yaml:"digest,omitempty" json:"digest,omitempty" jsonschema:"pattern=^sha256:[0-9a-f]{64}$,description=sha256:<64 hex digits>; may be given at deploy time with --digest instead."`
	// Signature, when set, must vouch for the artifact before any
	// environment changes: a missing or bad signature stops the release.
	Signature *ArtifactSignature `yaml:"signature,omitempty" json:"signature,omitempty" jsonschema:"description=Verify a cosign-compatible keyed signature of the artifact before each environment."`
	// Vulnerabilities, when set, checks the artifact's scan report against
	// limits before each environment: a breach blocks the promotion.
	Vulnerabilities *VulnerabilityPolicy `yaml:"vulnerabilities,omitempty" json:"vulnerabilities,omitempty" jsonschema:"description=Check the artifact's vulnerability report (SARIF or OSV JSON) against limits per severity before each environment."`
}

// Policy holds release-wide rules.
type Policy struct {
	// AllowSelfApproval lets the requester approve their own release. Off by
	// default: separation of duties is the norm in regulated shops.
	AllowSelfApproval bool `yaml:"allow-self-approval,omitempty" json:"allow-self-approval,omitempty" jsonschema:"description=Let the person who started the release approve it (default false)."`
	// ApprovalTimeout is the default timeout of approval gates.
	ApprovalTimeout Duration `yaml:"approval-timeout,omitempty" json:"approval-timeout,omitempty" jsonschema:"description=Default timeout of approval gates (default 24h)."`
	// DestructiveChangesNeedApproval gates infrastructure deletes/replaces.
	DestructiveChangesNeedApproval *bool `yaml:"destructive-changes-need-approval,omitempty" json:"destructive-changes-need-approval,omitempty" jsonschema:"description=Gate any delete or replace in a provisioning plan behind an approval (default true)."`
	// BreakGlass is who may let an emergency release (deploy --break-glass)
	// pass a closed release window or a freeze. Without it, break-glass is
	// refused: an emergency path nobody may approve is no path.
	// Risk maps the risk level each release and environment gets to the
	// approvals that level needs, on top of the environment's own.
	Risk       *RiskPolicy `yaml:"risk,omitempty" json:"risk,omitempty" jsonschema:"description=Approval policy per risk level (low\\, medium\\, high); the level is worked out per environment from the plan\\, the migrations\\, production\\, break-glass\\, the previous release and the change size."`
	BreakGlass *BreakGlass `yaml:"break-glass,omitempty" json:"break-glass,omitempty" jsonschema:"description=Who approves an emergency release (runbook deploy --break-glass) that must pass a closed window or a freeze."`
	// Identity says whether decisions must be signed; environments may
	// set their own. Default: signed for production, unsigned elsewhere.
	Identity string `yaml:"identity,omitempty" json:"identity,omitempty" jsonschema:"enum=signed,enum=unsigned,description=signed: every decision (deploy\\, approve\\, reject\\, abort\\, pause\\, resume\\, promote\\, migrate) must carry a verified signature or ID token; unsigned: names are taken as given. Default: signed for production environments\\, unsigned elsewhere."`
}

// Environment is one stage of the promotion path.
type Environment struct {
	Name   string `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z][a-z0-9-]{0\\,62}$"`
	Region string `yaml:"region,omitempty" json:"region,omitempty" jsonschema:"description=Region or site\\, for data-residency records."`
	// Production marks an environment whose releases are at least medium
	// risk; by default an environment named prod, prd, production or live.
	Production    *bool          `yaml:"production,omitempty" json:"production,omitempty" jsonschema:"description=Whether this is production (default: true for prod\\, prd\\, production and live); production raises the risk level to at least medium."`
	ReleaseWindow *ReleaseWindow `yaml:"release-window,omitempty" json:"release-window,omitempty"`
	Approvals     []Approval     `yaml:"approvals,omitempty" json:"approvals,omitempty" jsonschema:"description=Gates every release into this environment must pass before its first step."`
	Infra         *Infra         `yaml:"infra,omitempty" json:"infra,omitempty" jsonschema:"description=Terraform/OpenTofu module of the environment\\, applied by its provision step."`
	Database      *Database      `yaml:"database,omitempty" json:"database,omitempty" jsonschema:"description=Database schema the migrate step works on."`
	// Identity overrides policy.identity for this environment.
	Identity string   `yaml:"identity,omitempty" json:"identity,omitempty" jsonschema:"enum=signed,enum=unsigned,description=Overrides policy.identity for this environment."`
	Slack    *Slack   `yaml:"slack,omitempty" json:"slack,omitempty" jsonschema:"description=Slack channel where the environment's approval gates are posted with Approve and Reject buttons."`
	Traffic  *Traffic `yaml:"traffic,omitempty" json:"traffic,omitempty" jsonschema:"description=Router that shifts traffic between the environment's two slots; needed by a canary\\, linear\\, blue-green or all-at-once step and by ${slot} variables."`
	Metrics  *Metrics `yaml:"metrics,omitempty" json:"metrics,omitempty" jsonschema:"description=Metrics provider the SLO analysis reads from; needed by slos."`
	// Flags is the feature flag system the environment's flag steps change.
	Flags *Flags `yaml:"flags,omitempty" json:"flags,omitempty" jsonschema:"description=Feature flag provider the flag steps change (file: a flagd definitions file)."`
	SLOs  []SLO  `yaml:"slos,omitempty" json:"slos,omitempty" jsonschema:"description=Success criteria analysed during the environment's traffic step; a breach moves the traffic back to the live slot."`
	// Analysis says how the SLOs' verdicts combine: by default every SLO
	// must pass; with a score, weighted SLOs add up to a score.
	Analysis *Analysis `yaml:"analysis,omitempty" json:"analysis,omitempty" jsonschema:"description=How the slos' verdicts combine (default: each must pass; score: weighted\\, with pass and marginal thresholds)."`
	Steps    []Step    `yaml:"steps" json:"steps" jsonschema:"required,minItems=1"`
	// Wave groups this environment with its neighbours of the same wave:
	// they run in parallel (runbook.waves sets the limits).
	Wave string `yaml:"wave,omitempty" json:"wave,omitempty" jsonschema:"pattern=^[a-z][a-z0-9-]{0\\,62}$,description=Run in parallel with the neighbouring environments of the same wave (regions\\, cells)."`
	// Promote says how the release goes on to the next environment once
	// this one succeeded: auto (default) or manual, a decision that may
	// come days later inside the same durable release.
	Promote string `yaml:"promote,omitempty" json:"promote,omitempty" jsonschema:"enum=auto,enum=manual,description=auto (default): the next environment starts once this one succeeded and its soak passed; manual: it waits for runbook promote-env (a gate named promote at the start of the next environment)."`
	// PromoteApprovers may promote a manual environment (default: the next
	// environment's approvers, or anyone but the requester).
	PromoteApprovers []string `yaml:"promote-approvers,omitempty" json:"promote-approvers,omitempty" jsonschema:"description=Who may promote to the next environment when promote is manual (default: the next environment's approvers)."`
	// PromoteTimeout is how long a manual promotion may wait (default 7d).
	PromoteTimeout Duration `yaml:"promote-timeout,omitempty" json:"promote-timeout,omitempty" jsonschema:"description=How long a manual promotion waits before the release fails (default 7d)."`
	// RollbackProfile tunes `runbook rollback` into this environment.
	RollbackProfile *RollbackProfile `yaml:"rollback-profile,omitempty" json:"rollback-profile,omitempty" jsonschema:"description=How runbook rollback runs here: its gates (default one approval from the environment's approvers) and its longest bake (default 1m)."`
	// Soak is how long the release waits after this environment succeeded
	// before the next one starts.
	Soak Duration `yaml:"soak,omitempty" json:"soak,omitempty" jsonschema:"description=Wait this long after the environment succeeded before the next one starts (a durable timer)."`
	// WatchAfter is how long after a release finished here an Alertmanager
	// alert still points at it (default 1h).
	WatchAfter Duration `yaml:"watch-after,omitempty" json:"watch-after,omitempty" jsonschema:"description=How long after a release finished here an alert still acts on it (default 1h)."`
	// OnAlert maps an alert's severity (or default) to rollback, pause or
	// notify (default: notify).
	OnAlert map[string]string `yaml:"on-alert,omitempty" json:"on-alert,omitempty" jsonschema:"description=Alert severity (or default) to the action taken on the release the alert points at: rollback\\, pause or notify (default notify)."`
	// Watch are journeys run again and again after a release succeeded
	// here, for watch-after; a failure acts as an alert of severity journey.
	Watch []Watch `yaml:"watch,omitempty" json:"watch,omitempty" jsonschema:"description=Journeys run every interval after a release succeeded here\\, for watch-after; a failing one acts as an alert of severity journey (on-alert)."`
}

// RollbackProfile is how a rollback of a finished release runs in an
// environment (runbook rollback).
type RollbackProfile struct {
	// Approvals replace the rollback's default gate (one approval from
	// any of the environment's approvers); NoGate drops every gate.
	Approvals []Approval `yaml:"approvals,omitempty" json:"approvals,omitempty" jsonschema:"description=Gates of a rollback here\\, replacing the default single approval."`
	NoGate    bool       `yaml:"no-gate,omitempty" json:"no-gate,omitempty" jsonschema:"description=A rollback here needs no approval at all."`
	// MaxBake caps each traffic step's bake (default 1m).
	MaxBake Duration `yaml:"max-bake,omitempty" json:"max-bake,omitempty" jsonschema:"description=Longest bake of a rollback's traffic step (default 1m)."`
}

// Promotion modes (environments[].promote).
const (
	PromoteAuto   = "auto"
	PromoteManual = "manual"
	// PromoteGate is the gate a manual promotion opens at the start of the
	// next environment.
	PromoteGate = "promote"
)

// DefaultPromoteTimeout is how long a manual promotion waits by default.
const DefaultPromoteTimeout = Duration(7 * 24 * time.Hour)

// ReleaseWindow restricts when a release may enter an environment. Outside
// the window the environment waits, visibly, until it opens.
type ReleaseWindow struct {
	Timezone  string     `yaml:"timezone,omitempty" json:"timezone,omitempty" jsonschema:"description=IANA time zone\\, e.g. Europe/Berlin (default UTC)."`
	Days      []string   `yaml:"days,omitempty" json:"days,omitempty" jsonschema:"description=Weekdays\\, e.g. [mon\\, tue\\, wed\\, thu] (default every day)."`
	Start     string     `yaml:"start,omitempty" json:"start,omitempty" jsonschema:"pattern=^([01][0-9]|2[0-3]):[0-5][0-9]$,description=Opening time HH:MM (default 00:00)."`
	End       string     `yaml:"end,omitempty" json:"end,omitempty" jsonschema:"pattern=^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$,description=Closing time HH:MM (default 24:00)."`
	Blackouts []Blackout `yaml:"blackouts,omitempty" json:"blackouts,omitempty"`
	// OnClosed is what a release does when it reaches a closed window.
	OnClosed string `yaml:"on-closed,omitempty" json:"on-closed,omitempty" jsonschema:"enum=wait,enum=fail,description=wait (default): hold on a durable timer until the window opens; fail: stop the release at once."`
}

// What a release does at a closed window.
const (
	OnClosedWait = "wait"
	OnClosedFail = "fail"
)

// Blackout is a period (dates inclusive, in the window's time zone) when no
// release may enter, e.g. a financial close.
type Blackout struct {
	From string `yaml:"from,omitempty" json:"from,omitempty" jsonschema:"format=date,description=First day (with to); or use last-business-days."`
	To   string `yaml:"to,omitempty" json:"to,omitempty" jsonschema:"format=date,description=Last day (with from)."`
	// LastBusinessDays recurs every month: from the N-th last weekday of
	// the month to its end, e.g. 3 for a financial close.
	LastBusinessDays int    `yaml:"last-business-days,omitempty" json:"last-business-days,omitempty" jsonschema:"minimum=1,maximum=10,description=Every month\\, from the N-th last business day (Mon-Fri) to the month's end\\, e.g. 3 for a financial close."`
	Reason           string `yaml:"reason,omitempty" json:"reason,omitempty"`
}

// Approval is a manual gate: a release waits until enough allowed people
// approve, or fails when one rejects or the gate times out.
type Approval struct {
	Name         string   `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z][a-z0-9-]{0\\,62}$"`
	Approvers    []string `yaml:"approvers,omitempty" json:"approvers,omitempty" jsonschema:"description=Who may decide (default anyone except the requester)."`
	MinApprovals int      `yaml:"min-approvals,omitempty" json:"min-approvals,omitempty" jsonschema:"minimum=1,description=Distinct approvals needed (default 1)."`
	Timeout      Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema:"description=How long to wait before the gate fails (default policy.approval-timeout)."`
	Instructions string   `yaml:"instructions,omitempty" json:"instructions,omitempty" jsonschema:"description=What the approver should check."`
	// RejectNeedsReason refuses a rejection without a comment.
	RejectNeedsReason bool `yaml:"reject-needs-reason,omitempty" json:"reject-needs-reason,omitempty" jsonschema:"description=A rejection must say why (--comment\\, or the Slack dialog)."`
	// EscalateTo, when set, does not fail the gate at its timeout: it opens
	// it to these people for one more timeout, then fails.
	EscalateTo []string `yaml:"escalate-to,omitempty" json:"escalate-to,omitempty" jsonschema:"description=At the timeout\\, open the gate to these approvers for one more timeout instead of failing."`
	// RemindAfter posts one reminder in the gate message's Slack thread.
	RemindAfter Duration `yaml:"remind-after,omitempty" json:"remind-after,omitempty" jsonschema:"description=Post one reminder in the Slack thread after this long (at most one per gate)."`
}

// Infra is the Terraform/OpenTofu module of an environment (provision step).
type Infra struct {
	Module     string            `yaml:"module" json:"module" jsonschema:"required"`
	Vars       map[string]string `yaml:"vars,omitempty" json:"vars,omitempty"`
	OnRollback string            `yaml:"on-rollback,omitempty" json:"on-rollback,omitempty" jsonschema:"enum=restore,enum=destroy,description=On rollback re-apply the previous release's variables (restore\\, default) or destroy what the release created."`
	// Approvers may approve a plan that deletes or replaces resources
	// (default anyone except the requester).
	Approvers []string `yaml:"approvers,omitempty" json:"approvers,omitempty" jsonschema:"description=Who may approve a plan that deletes or replaces resources (default anyone except the requester)."`
}

// Database is the schema the migrate step works on. The URL is a reference
// (env:NAME or file:PATH), never the secret itself.
type Database struct {
	URL        string `yaml:"url" json:"url" jsonschema:"required,pattern=^(env|file):.+$,description=Where the connection string is: env:NAME (a variable of the worker) or file:PATH (its first line). Never the connection string itself."`
	Driver     string `yaml:"driver,omitempty" json:"driver,omitempty" jsonschema:"enum=postgres,enum=sqlite,description=Default: from the connection string's scheme."`
	Migrations string `yaml:"migrations" json:"migrations" jsonschema:"required,description=Directory of NNN_name.up.sql / NNN_name.down.sql files\\, relative to the runbook."`
}

// Slack is where an environment's gates are posted. The bot token and the
// signing secret are the worker's (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET),
// never the runbook's.
type Slack struct {
	Channel string `yaml:"channel" json:"channel" jsonschema:"required,description=Channel ID (C0123...) or name the bot is a member of."`
}

// Traffic names the router that shifts traffic between the environment's two
// slots. The release reads the weights when the environment starts: the slot
// with the larger weight is live (the stable version), the other one is the
// target the new version is provisioned into (${slot}) and traffic moves to.
type Traffic struct {
	Provider string            `yaml:"provider" json:"provider" jsonschema:"required"` // enum and description: schema.go, from internal/providers
	Options  map[string]string `yaml:"options,omitempty" json:"options,omitempty" jsonschema:"description=Router options; secrets only as env:NAME references."`
	// Slots are the two backends, by their name in the router. Each slot's
	// values are available to steps as ${slot.KEY} for the target slot.
	Slots map[string]map[string]string `yaml:"slots" json:"slots" jsonschema:"required,minProperties=2,maxProperties=2,description=The two backends (router names) the version alternates between\\, with values steps read as ${slot.KEY}."`
	// Rollback is how traffic goes back to the live slot on a breach:
	// immediate (default) or gradual, when the stable side is cold.
	Rollback string `yaml:"rollback,omitempty" json:"rollback,omitempty" jsonschema:"enum=immediate,enum=gradual,description=immediate (default) moves all traffic back at once; gradual in four steps one second apart\\, for a cold stable side."`
}

// SLO is one success criterion analysed during traffic shifts. Exactly one
// of error-ratio, latency, query, compare and burn-rate is set.
type SLO struct {
	Name       string    `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z][a-z0-9-]{0\\,62}$"`
	ErrorRatio *float64  `yaml:"error-ratio,omitempty" json:"error-ratio,omitempty" jsonschema:"minimum=0,maximum=1,description=Maximum ratio of 5xx responses of the new version."`
	Latency    *Latency  `yaml:"latency,omitempty" json:"latency,omitempty" jsonschema:"description=Maximum latency percentile of the new version."`
	Query      string    `yaml:"query,omitempty" json:"query,omitempty" jsonschema:"description=Any provider query (PromQL for prometheus; for web a URL\\, a space and a JSON path); fails above max. ${slot} is the new version's slot."`
	Max        *float64  `yaml:"max,omitempty" json:"max,omitempty" jsonschema:"description=Highest passing value of query."`
	Compare    *Compare  `yaml:"compare,omitempty" json:"compare,omitempty" jsonschema:"description=Canary versus baseline (Mann-Whitney U)."`
	BurnRate   *BurnRate `yaml:"burn-rate,omitempty" json:"burn-rate,omitempty" jsonschema:"description=Error-budget burn rate over a short and a long window."`
	Window     Duration  `yaml:"window,omitempty" json:"window,omitempty" jsonschema:"description=Time span each measurement covers (default: the analysis interval)."`
	// Template names the metrics template the objective reads: with
	// error-ratio, latency, burn-rate or compare it replaces the default
	// (the objective's own name); alone, with max, it is the objective.
	Template string `yaml:"template,omitempty" json:"template,omitempty" jsonschema:"description=Metrics template to read (metrics.templates); with error-ratio\\, latency\\, burn-rate or compare it replaces the default template of that name; alone with max it fails above max."`
	// Weight is the SLO's share of an analysis score (default 1).
	Weight float64 `yaml:"weight,omitempty" json:"weight,omitempty" jsonschema:"exclusiveMinimum=0,description=Share of the analysis score (default 1); only with analysis.score."`
	// Critical fails the analysis on its own, whatever the score.
	Critical bool `yaml:"critical,omitempty" json:"critical,omitempty" jsonschema:"description=A failure fails the round whatever the score; only with analysis.score."`
}

// Latency is a latency-percentile objective.
type Latency struct {
	Percentile float64  `yaml:"percentile" json:"percentile" jsonschema:"required,exclusiveMinimum=0,exclusiveMaximum=100,description=e.g. 99 for p99."`
	Max        Duration `yaml:"max" json:"max" jsonschema:"required"`
}

// Compare tests whether the new version's observations are worse than the
// live version's (Mann-Whitney U). Too few samples is inconclusive.
type Compare struct {
	Query      string   `yaml:"query" json:"query" jsonschema:"required,description=Query of one side; ${slot} is replaced by each side's slot."`
	MinSamples int      `yaml:"min-samples,omitempty" json:"min-samples,omitempty" jsonschema:"minimum=3,description=Observations needed on each side (default 10)."`
	Alpha      float64  `yaml:"alpha,omitempty" json:"alpha,omitempty" jsonschema:"exclusiveMinimum=0,exclusiveMaximum=1,description=Significance level (default 0.05)."`
	Step       Duration `yaml:"step,omitempty" json:"step,omitempty" jsonschema:"description=Resolution of the observations (default 5s)."`
	// MinDifference keeps a significant but negligible worsening from
	// failing: the canary's median must exceed the baseline's by more.
	MinDifference float64 `yaml:"min-difference,omitempty" json:"min-difference,omitempty" jsonschema:"minimum=0,description=Smallest worsening of the median (canary minus baseline\\, in the query's unit) that fails\\, however significant (default 0)."`
}

// BurnRate fails when the error budget burns faster than threshold over both
// the measurement window and the long window.
type BurnRate struct {
	Target     float64  `yaml:"target" json:"target" jsonschema:"required,exclusiveMinimum=0,exclusiveMaximum=1,description=SLO target\\, e.g. 0.999."`
	LongWindow Duration `yaml:"long-window" json:"long-window" jsonschema:"required"`
	Threshold  float64  `yaml:"threshold" json:"threshold" jsonschema:"required,exclusiveMinimum=0,description=Burn rate that fails\\, e.g. 14.4."`
}

// Step is one unit of work. Exactly one kind field is set; Kind reports it.
type Step struct {
	Name      string         `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z][a-z0-9-]{0\\,62}$"`
	Approval  *ApprovalStep  `yaml:"approval,omitempty" json:"approval,omitempty" jsonschema:"description=Manual gate: wait for approvals before the next step."`
	HTTPCheck *HTTPCheckStep `yaml:"http-check,omitempty" json:"http-check,omitempty" jsonschema:"description=Poll a URL until it answers as expected."`
	Journey   *JourneyStep   `yaml:"journey,omitempty" json:"journey,omitempty" jsonschema:"description=Several HTTP requests in order\\, values extracted from one answer used in the next\\, retried as a whole until all pass."`
	Provision *ProvisionStep `yaml:"provision,omitempty" json:"provision,omitempty" jsonschema:"description=Plan and apply the environment's infra module; a destructive plan waits for an approval."`
	Migrate   *MigrateStep   `yaml:"migrate,omitempty" json:"migrate,omitempty" jsonschema:"description=Run schema migrations: expand before the traffic moves\\, contract after."`
	Canary    *CanaryStep    `yaml:"canary,omitempty" json:"canary,omitempty" jsonschema:"description=Shift traffic to the new version in rising weights\\, analysing the slos at each."`
	Linear    *LinearStep    `yaml:"linear,omitempty" json:"linear,omitempty" jsonschema:"description=Shift traffic to the new version by a fixed increment every period\\, analysing the slos."`
	BlueGreen *BlueGreenStep `yaml:"blue-green,omitempty" json:"blue-green,omitempty" jsonschema:"description=Cut all traffic over to the target slot\\, then analyse the slos for a rollback window."`
	AllAtOnce *AllAtOnceStep `yaml:"all-at-once,omitempty" json:"all-at-once,omitempty" jsonschema:"description=Move all traffic to the new version at once\\, then analyse the slos for a bake time."`
	Flag      *FlagStep      `yaml:"flag,omitempty" json:"flag,omitempty" jsonschema:"description=Roll feature flags out in stages (percentage\\, segments)\\, analysing the slos at each; a breach restores every flag's previous definition."`
	// OnRollback is an HTTP call made when this step is compensated, e.g. to
	// switch a feature flag back or deregister a deployment marker.
	OnRollback *HTTPHook `yaml:"on-rollback,omitempty" json:"on-rollback,omitempty" jsonschema:"description=HTTP call made when the release rolls this step back."`
}

// HTTPHook is an HTTP request made as a compensation. It is retried until it
// answers with the expected status; it carries an Idempotency-Key header so
// the receiver can ignore repeats.
type HTTPHook struct {
	URL          string            `yaml:"url" json:"url" jsonschema:"required"`
	Method       string            `yaml:"method,omitempty" json:"method,omitempty" jsonschema:"enum=GET,enum=POST,enum=PUT,enum=DELETE,description=Default POST."`
	Headers      map[string]string `yaml:"headers,omitempty" json:"headers,omitempty" jsonschema:"description=Header values written env:NAME are read from the worker's environment\\, so secrets stay out of history."`
	Body         string            `yaml:"body,omitempty" json:"body,omitempty"`
	ExpectStatus int               `yaml:"expect-status,omitempty" json:"expect-status,omitempty" jsonschema:"minimum=100,maximum=599,description=Default 200."`
}

// Step kinds, as written in runbooks.
const (
	KindApproval  = "approval"
	KindHTTPCheck = "http-check"
	KindJourney   = "journey"
	KindProvision = "provision"
	KindMigrate   = "migrate"
	KindCanary    = "canary"
	KindLinear    = "linear"
	KindBlueGreen = "blue-green"
	KindAllAtOnce = "all-at-once"
)

// Kinds returns the kind keys that are set on s, in schema order. A valid step
// has exactly one.
func (s Step) Kinds() []string {
	var k []string
	add := func(set bool, name string) {
		if set {
			k = append(k, name)
		}
	}
	add(s.Approval != nil, KindApproval)
	add(s.HTTPCheck != nil, KindHTTPCheck)
	add(s.Journey != nil, KindJourney)
	add(s.Provision != nil, KindProvision)
	add(s.Migrate != nil, KindMigrate)
	add(s.Canary != nil, KindCanary)
	add(s.Linear != nil, KindLinear)
	add(s.BlueGreen != nil, KindBlueGreen)
	add(s.AllAtOnce != nil, KindAllAtOnce)
	add(s.Flag != nil, KindFlag)
	return k
}

// Kind returns the step's kind, or "" when none or several are set.
func (s Step) Kind() string {
	if k := s.Kinds(); len(k) == 1 {
		return k[0]
	}
	return ""
}

// ApprovalStep is a manual gate in the middle of an environment's steps.
type ApprovalStep struct {
	Approvers    []string `yaml:"approvers,omitempty" json:"approvers,omitempty"`
	MinApprovals int      `yaml:"min-approvals,omitempty" json:"min-approvals,omitempty" jsonschema:"minimum=1"`
	Timeout      Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Instructions string   `yaml:"instructions,omitempty" json:"instructions,omitempty"`
	// RejectNeedsReason refuses a rejection without a comment.
	RejectNeedsReason bool `yaml:"reject-needs-reason,omitempty" json:"reject-needs-reason,omitempty" jsonschema:"description=A rejection must say why (--comment\\, or the Slack dialog)."`
	// EscalateTo, when set, does not fail the gate at its timeout: it opens
	// it to these people for one more timeout, then fails.
	EscalateTo []string `yaml:"escalate-to,omitempty" json:"escalate-to,omitempty" jsonschema:"description=At the timeout\\, open the gate to these approvers for one more timeout instead of failing."`
	// RemindAfter posts one reminder in the gate message's Slack thread.
	RemindAfter Duration `yaml:"remind-after,omitempty" json:"remind-after,omitempty" jsonschema:"description=Post one reminder in the Slack thread after this long (at most one per gate)."`
}

// HTTPCheckStep polls a URL until it answers as expected or the deadline
// passes.
type HTTPCheckStep struct {
	URL          string            `yaml:"url" json:"url" jsonschema:"required,description=http:// or https:// URL; ${version}\\, ${service} and ${environment} are replaced."`
	Method       string            `yaml:"method,omitempty" json:"method,omitempty" jsonschema:"enum=GET,enum=HEAD,enum=POST,enum=PUT,description=Default GET. POST and PUT carry an Idempotency-Key header unique to the release step."`
	Headers      map[string]string `yaml:"headers,omitempty" json:"headers,omitempty" jsonschema:"description=Header values written env:NAME are read from the worker's environment\\, so secrets stay out of history."`
	Body         string            `yaml:"body,omitempty" json:"body,omitempty"`
	ExpectStatus int               `yaml:"expect-status,omitempty" json:"expect-status,omitempty" jsonschema:"minimum=100,maximum=599,description=Default 200."`
	ExpectBody   string            `yaml:"expect-body,omitempty" json:"expect-body,omitempty" jsonschema:"description=Substring the response body must contain."`
	Timeout      Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema:"description=Per attempt (default 10s)."`
	Interval     Duration          `yaml:"interval,omitempty" json:"interval,omitempty" jsonschema:"description=Between attempts (default 2s)."`
	Deadline     Duration          `yaml:"deadline,omitempty" json:"deadline,omitempty" jsonschema:"description=Give up after this long (default 2m)."`
}

// ProvisionStep plans and applies the environment's infra module; its vars
// override the environment's.
type ProvisionStep struct {
	Vars map[string]string `yaml:"vars,omitempty" json:"vars,omitempty"`
}

// MigrateStep runs the environment's schema migrations up to a version.
type MigrateStep struct {
	// Phase expand (default) runs only additive migrations; contract runs
	// destructive ones too, behind an approval, after the traffic moved.
	Phase string `yaml:"phase,omitempty" json:"phase,omitempty" jsonschema:"enum=expand,enum=contract,description=expand (default) runs only additive migrations; contract may drop or rewrite\\, behind an approval."`
	// To is the version to migrate to; 0 means the latest.
	To int `yaml:"to,omitempty" json:"to,omitempty" jsonschema:"minimum=0,description=Target version (default: the latest)."`
	// Approvers may approve the contract gate (default anyone except the
	// requester).
	Approvers []string `yaml:"approvers,omitempty" json:"approvers,omitempty" jsonschema:"description=Who may approve a contract migration (default anyone except the requester)."`
}

// CanaryStep shifts traffic to the new version in weighted steps, each
// baking with analysis rounds before the next.
type CanaryStep struct {
	Steps            []CanaryWeight `yaml:"steps" json:"steps" jsonschema:"required,minItems=1,description=Weights of the new version in increasing order; the last is normally 100."`
	AnalysisInterval Duration       `yaml:"analysis-interval,omitempty" json:"analysis-interval,omitempty" jsonschema:"description=Time between SLO analysis rounds (default 10s)."`
}

// CanaryWeight is one weight of a canary and how long it bakes.
type CanaryWeight struct {
	Weight int      `yaml:"weight" json:"weight" jsonschema:"minimum=1,maximum=100"`
	Bake   Duration `yaml:"bake,omitempty" json:"bake,omitempty" jsonschema:"description=How long the weight is analysed before the next (default one analysis interval)."`
}

// LinearStep moves traffic by a fixed increment every period, with analysis.
type LinearStep struct {
	Increment        int      `yaml:"increment" json:"increment" jsonschema:"required,minimum=1,maximum=100,description=Percentage points added each time."`
	Every            Duration `yaml:"every" json:"every" jsonschema:"required,description=How long each weight bakes."`
	AnalysisInterval Duration `yaml:"analysis-interval,omitempty" json:"analysis-interval,omitempty" jsonschema:"description=Time between SLO analysis rounds (default 10s)."`
}

// BlueGreenStep cuts all traffic over to the target slot at once (it was
// previewed on its own address by the steps before), then keeps the old slot
// ready and analyses for a rollback window.
type BlueGreenStep struct {
	RollbackWindow   Duration `yaml:"rollback-window,omitempty" json:"rollback-window,omitempty" jsonschema:"description=How long after the cutover a breach still switches back (default 5m)."`
	AnalysisInterval Duration `yaml:"analysis-interval,omitempty" json:"analysis-interval,omitempty" jsonschema:"description=Time between SLO analysis rounds (default 10s)."`
}

// AllAtOnceStep moves all traffic at once and analyses for a bake time.
type AllAtOnceStep struct {
	Bake             Duration `yaml:"bake,omitempty" json:"bake,omitempty" jsonschema:"description=How long to analyse after the switch (default one analysis interval)."`
	AnalysisInterval Duration `yaml:"analysis-interval,omitempty" json:"analysis-interval,omitempty" jsonschema:"description=Time between SLO analysis rounds (default 10s)."`
}

// Identity modes (policy.identity).
const (
	IdentitySigned   = "signed"
	IdentityUnsigned = "unsigned"
)

// IdentityMode is whether decisions in environment e must be signed: its own
// identity, else the policy's, else signed for production.
func (p Policy) IdentityMode(e *Environment) string {
	switch {
	case e.Identity != "":
		return e.Identity
	case p.Identity != "":
		return p.Identity
	case e.IsProduction():
		return IdentitySigned
	}
	return IdentityUnsigned
}

// IsProduction reports whether the environment counts as production.
func (e *Environment) IsProduction() bool {
	if e.Production != nil {
		return *e.Production
	}
	switch e.Name {
	case "prod", "prd", "production", "live":
		return true
	}
	return false
}

// Groups are the environments in the order a release runs them: each
// group one environment, or the consecutive environments of one wave,
// which run in parallel. Each group holds indexes into envs.
func Groups(envs []Environment) [][]int {
	var out [][]int
	for i, e := range envs {
		if n := len(out); n > 0 && e.Wave != "" && envs[out[n-1][0]].Wave == e.Wave {
			out[n-1] = append(out[n-1], i)
			continue
		}
		out = append(out, []int{i})
	}
	return out
}
