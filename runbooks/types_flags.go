package runbooks

// Flags is the feature flag system of an environment, which its flag
// steps change.
type Flags struct {
	Provider string            `yaml:"provider" json:"provider" jsonschema:"required"` // enum: from internal/providers
	Options  map[string]string `yaml:"options,omitempty" json:"options,omitempty" jsonschema:"description=Provider options (file: path of the flagd definitions file); secrets only as env:NAME."`
	// KillOnBreach are flags turned off first whenever an SLO breach ends a
	// step of a release here: features that must not stay on while a
	// release is being taken back.
	KillOnBreach []string `yaml:"kill-on-breach,omitempty" json:"kill-on-breach,omitempty" jsonschema:"description=Flags turned off first when an SLO breach ends a traffic or flag step here (the kill switch)."`
}

// FlagStep rolls feature flags out in stages, like a traffic step rolls a
// version out: each stage sets every flag of the step, read back from the
// provider, then bakes while the environment's SLOs are analysed; a breach
// puts every flag's previous definition back at once.
type FlagStep struct {
	Flags  []string    `yaml:"flags" json:"flags" jsonschema:"required,minItems=1,description=The flags this step moves together."`
	Stages []FlagStage `yaml:"stages" json:"stages" jsonschema:"required,minItems=1,description=The rollouts in order; each bakes before the next."`
	// AnalysisInterval is how often the SLOs are measured during a bake.
	AnalysisInterval Duration `yaml:"analysis-interval,omitempty" json:"analysis-interval,omitempty" jsonschema:"description=How often the slos are measured during a bake (default 10s)."`
	// Experiment, when set, compares a business metric between the flag's
	// variants at the end of every stage's bake and gates the next stage
	// on "no significant harm".
	Experiment *Experiment `yaml:"experiment,omitempty" json:"experiment,omitempty" jsonschema:"description=Compare a business metric between the variants (on\\, off) after each bake; significant harm fails the stage."`
}

// Experiment kinds: a rate (a ratio template's good over total, e.g.
// conversions over checkouts) or a value (a value template's observations,
// e.g. checkout value).
const (
	ExperimentRate  = "rate"
	ExperimentValue = "value"
)

// Defaults of an experiment's fields left out.
const (
	DefaultExperimentConfidence = 0.95
	DefaultExperimentMinSamples = 100
)

// VarVariant is the flag variant (on or off) an experiment's metric
// template is queried for.
const VarVariant = "variant"

// Experiment is a flag step's comparison of a business metric between the
// variants: a two-proportion test for rates, Mann-Whitney for values.
type Experiment struct {
	Metric     string  `yaml:"metric" json:"metric" jsonschema:"required,description=The environment's metric template to compare; its queries use ${variant} (on or off)."`
	Kind       string  `yaml:"kind" json:"kind" jsonschema:"required,enum=rate,enum=value,description=rate: good/total of a ratio template (conversions/checkouts); value: a value template's observations."`
	MaxHarm    float64 `yaml:"max-harm,omitempty" json:"max-harm,omitempty" jsonschema:"minimum=0,description=The largest drop of the treatment (on) below control (off) that is no harm: a rate difference (0.02) or a value in the metric's unit."`
	Confidence float64 `yaml:"confidence,omitempty" json:"confidence,omitempty" jsonschema:"description=Confidence of the harm test and of the interval (default 0.95)."`
	MinSamples int     `yaml:"min-samples,omitempty" json:"min-samples,omitempty" jsonschema:"minimum=1,description=Fewest observations per variant a verdict needs (default 100)."`
	Require    *bool   `yaml:"require,omitempty" json:"require,omitempty" jsonschema:"description=Hold for a person when too few samples decide nothing (default true); false records it and goes on."`
}

// Required reports whether an inconclusive experiment holds the step.
func (x *Experiment) Required() bool { return x.Require == nil || *x.Require }

// Conf is the confidence, defaulted.
func (x *Experiment) Conf() float64 {
	if x.Confidence == 0 {
		return DefaultExperimentConfidence
	}
	return x.Confidence
}

// Samples is the fewest samples per variant, defaulted.
func (x *Experiment) Samples() int {
	if x.MinSamples == 0 {
		return DefaultExperimentMinSamples
	}
	return x.MinSamples
}

// FlagStage is one rollout: exactly one of Percentage, Segments or Off.
type FlagStage struct {
	Percentage *int     `yaml:"percentage,omitempty" json:"percentage,omitempty" jsonschema:"minimum=0,maximum=100,description=On for this share of subjects (their targeting keys)."`
	Segments   []string `yaml:"segments,omitempty" json:"segments,omitempty" jsonschema:"description=On for these segments only."`
	Off        bool     `yaml:"off,omitempty" json:"off,omitempty" jsonschema:"description=Off for everyone."`
	Bake       Duration `yaml:"bake,omitempty" json:"bake,omitempty" jsonschema:"description=How long the slos are analysed at this stage before the next (0: none)."`
}

// KindFlag is the flag step's kind.
const KindFlag = "flag"
