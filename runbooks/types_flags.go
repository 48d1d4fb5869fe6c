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
