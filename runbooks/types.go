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
}

// Artifact names what is released and pins it by content.
type Artifact struct {
	// Reference locates the artifact. ${version} is replaced by the release
	// version. file:// and http(s):// references are verified by digest.
	Reference string `yaml:"reference" json:"reference" jsonschema:"required,description=Where the artifact lives (file:// or https://); ${version} is replaced by the release version."`
	// Digest is "sha256:<64 hex>". It may be left out here and given at deploy
	// time with --digest instead; one of the two is required.
	Digest string `yaml:"digest,omitempty" json:"digest,omitempty" jsonschema:"pattern=^sha256:[0-9a-f]{64}$,description=sha256:<64 hex digits>; may be given at deploy time with --digest instead."`
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
}

// Environment is one stage of the promotion path.
type Environment struct {
	Name          string         `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z][a-z0-9-]{0\\,62}$"`
	Region        string         `yaml:"region,omitempty" json:"region,omitempty" jsonschema:"description=Region or site\\, for data-residency records."`
	ReleaseWindow *ReleaseWindow `yaml:"release-window,omitempty" json:"release-window,omitempty"`
	Approvals     []Approval     `yaml:"approvals,omitempty" json:"approvals,omitempty" jsonschema:"description=Gates every release into this environment must pass before its first step."`
	Infra         *Infra         `yaml:"infra,omitempty" json:"infra,omitempty" jsonschema:"description=Terraform/OpenTofu module of the environment\\, applied by its provision step."`
	Database      *Database      `yaml:"database,omitempty" json:"database,omitempty" jsonschema:"description=Database schema the migrate step works on."`
	Traffic       *Traffic       `yaml:"traffic,omitempty" json:"traffic,omitempty" jsonschema:"description=Router that shifts traffic between stable and new. Planned; not implemented in this version of runbook yet."`
	Metrics       *Metrics       `yaml:"metrics,omitempty" json:"metrics,omitempty" jsonschema:"description=Metrics provider for SLO analysis. Planned; not implemented in this version of runbook yet."`
	SLOs          []SLO          `yaml:"slos,omitempty" json:"slos,omitempty" jsonschema:"description=Success criteria analysed during traffic shifts. Planned; not implemented in this version of runbook yet."`
	Steps         []Step         `yaml:"steps" json:"steps" jsonschema:"required,minItems=1"`
}

// ReleaseWindow restricts when a release may enter an environment. Outside
// the window the environment waits, visibly, until it opens.
type ReleaseWindow struct {
	Timezone  string     `yaml:"timezone,omitempty" json:"timezone,omitempty" jsonschema:"description=IANA time zone\\, e.g. Europe/Berlin (default UTC)."`
	Days      []string   `yaml:"days,omitempty" json:"days,omitempty" jsonschema:"description=Weekdays\\, e.g. [mon\\, tue\\, wed\\, thu] (default every day)."`
	Start     string     `yaml:"start,omitempty" json:"start,omitempty" jsonschema:"pattern=^([01][0-9]|2[0-3]):[0-5][0-9]$,description=Opening time HH:MM (default 00:00)."`
	End       string     `yaml:"end,omitempty" json:"end,omitempty" jsonschema:"pattern=^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$,description=Closing time HH:MM (default 24:00)."`
	Blackouts []Blackout `yaml:"blackouts,omitempty" json:"blackouts,omitempty"`
}

// Blackout is a period (dates inclusive, in the window's time zone) when no
// release may enter, e.g. a financial close.
type Blackout struct {
	From   string `yaml:"from" json:"from" jsonschema:"required,format=date"`
	To     string `yaml:"to" json:"to" jsonschema:"required,format=date"`
	Reason string `yaml:"reason,omitempty" json:"reason,omitempty"`
}

// Approval is a manual gate: a release waits until enough allowed people
// approve, or fails when one rejects or the gate times out.
type Approval struct {
	Name         string   `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z][a-z0-9-]{0\\,62}$"`
	Approvers    []string `yaml:"approvers,omitempty" json:"approvers,omitempty" jsonschema:"description=Who may decide (default anyone except the requester)."`
	MinApprovals int      `yaml:"min-approvals,omitempty" json:"min-approvals,omitempty" jsonschema:"minimum=1,description=Distinct approvals needed (default 1)."`
	Timeout      Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema:"description=How long to wait before the gate fails (default policy.approval-timeout)."`
	Instructions string   `yaml:"instructions,omitempty" json:"instructions,omitempty" jsonschema:"description=What the approver should check."`
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

// Traffic names the router that shifts traffic between stable and new.
type Traffic struct {
	Provider string            `yaml:"provider" json:"provider" jsonschema:"required,enum=edge,enum=haproxy,enum=alb,enum=route53"`
	Options  map[string]string `yaml:"options,omitempty" json:"options,omitempty"`
}

// Metrics names the provider the SLO analysis reads from.
type Metrics struct {
	Provider string            `yaml:"provider" json:"provider" jsonschema:"required,enum=edge,enum=prometheus,enum=cloudwatch"`
	Options  map[string]string `yaml:"options,omitempty" json:"options,omitempty"`
}

// SLO is one success criterion analysed during traffic shifts.
type SLO struct {
	Name       string   `yaml:"name" json:"name" jsonschema:"required"`
	ErrorRatio *float64 `yaml:"error-ratio,omitempty" json:"error-ratio,omitempty" jsonschema:"description=Maximum ratio of 5xx responses."`
	Latency    *Latency `yaml:"latency,omitempty" json:"latency,omitempty"`
	Query      string   `yaml:"query,omitempty" json:"query,omitempty"`
	Max        *float64 `yaml:"max,omitempty" json:"max,omitempty"`
}

// Latency is a latency-percentile objective.
type Latency struct {
	Percentile float64  `yaml:"percentile" json:"percentile" jsonschema:"required"`
	Max        Duration `yaml:"max" json:"max" jsonschema:"required"`
}

// Step is one unit of work. Exactly one kind field is set; Kind reports it.
type Step struct {
	Name      string         `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z][a-z0-9-]{0\\,62}$"`
	Approval  *ApprovalStep  `yaml:"approval,omitempty" json:"approval,omitempty" jsonschema:"description=Manual gate: wait for approvals before the next step."`
	HTTPCheck *HTTPCheckStep `yaml:"http-check,omitempty" json:"http-check,omitempty" jsonschema:"description=Poll a URL until it answers as expected."`
	Provision *ProvisionStep `yaml:"provision,omitempty" json:"provision,omitempty" jsonschema:"description=Plan and apply the environment's infra module; a destructive plan waits for an approval."`
	Migrate   *MigrateStep   `yaml:"migrate,omitempty" json:"migrate,omitempty" jsonschema:"description=Run schema migrations: expand before the traffic moves\\, contract after."`
	Canary    *CanaryStep    `yaml:"canary,omitempty" json:"canary,omitempty" jsonschema:"description=Shift traffic in weighted steps with analysis. Planned; not implemented in this version of runbook yet."`
	Linear    *LinearStep    `yaml:"linear,omitempty" json:"linear,omitempty" jsonschema:"description=Shift traffic by a fixed increment. Planned; not implemented in this version of runbook yet."`
	BlueGreen *BlueGreenStep `yaml:"blue-green,omitempty" json:"blue-green,omitempty" jsonschema:"description=Preview on the idle slot then cut over. Planned; not implemented in this version of runbook yet."`
	AllAtOnce *AllAtOnceStep `yaml:"all-at-once,omitempty" json:"all-at-once,omitempty" jsonschema:"description=Move all traffic at once. Planned; not implemented in this version of runbook yet."`
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
	add(s.Provision != nil, KindProvision)
	add(s.Migrate != nil, KindMigrate)
	add(s.Canary != nil, KindCanary)
	add(s.Linear != nil, KindLinear)
	add(s.BlueGreen != nil, KindBlueGreen)
	add(s.AllAtOnce != nil, KindAllAtOnce)
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

// CanaryStep shifts traffic in weighted steps with analysis (not implemented yet).
type CanaryStep struct {
	Steps            []CanaryWeight `yaml:"steps" json:"steps"`
	AnalysisInterval Duration       `yaml:"analysis-interval,omitempty" json:"analysis-interval,omitempty"`
}

// CanaryWeight is one weight of a canary and how long it bakes.
type CanaryWeight struct {
	Weight int      `yaml:"weight" json:"weight" jsonschema:"minimum=0,maximum=100"`
	Bake   Duration `yaml:"bake,omitempty" json:"bake,omitempty"`
}

// LinearStep moves traffic by a fixed increment (not implemented yet).
type LinearStep struct {
	Increment int      `yaml:"increment" json:"increment" jsonschema:"minimum=1,maximum=100"`
	Every     Duration `yaml:"every" json:"every"`
}

// BlueGreenStep previews on the idle slot then cuts over (not implemented yet).
type BlueGreenStep struct {
	RollbackWindow Duration `yaml:"rollback-window,omitempty" json:"rollback-window,omitempty"`
}

// AllAtOnceStep moves all traffic at once (not implemented yet).
type AllAtOnceStep struct{}
