package runbooks

// ArtifactSignature is how the artifact is signed: cosign sign-blob --key
// for files and URLs, cosign sign --key for oci:// images.
type ArtifactSignature struct {
	// PublicKey is the path of the public key (cosign.pub), relative to
	// the runbook, or the PEM text itself; deploy reads the file, so the
	// key travels with the release (a public key is no secret).
	PublicKey string `yaml:"public-key" json:"public-key" jsonschema:"required,description=Path of the PEM public key (cosign.pub)\\, relative to the runbook\\, or the PEM itself."`
	// Signature is where the signature file is; default the reference with
	// .sig appended (oci:// images: the cosign tag of the image).
	Signature string `yaml:"signature,omitempty" json:"signature,omitempty" jsonschema:"description=Where the base64 signature is (path\\, file:// or http(s)://; ${version} allowed); default <reference>.sig. For oci:// images: empty\\, or another oci:// repository holding the signatures."`
}

// VulnerabilityPolicy is the artifact's scan report and the most findings
// of each severity a release may ship with.
type VulnerabilityPolicy struct {
	Report string         `yaml:"report" json:"report" jsonschema:"required,description=The scan report: path relative to the runbook\\, file:// or http(s)://; ${version} allowed."`
	Format string         `yaml:"format,omitempty" json:"format,omitempty" jsonschema:"enum=sarif,enum=osv,description=sarif or osv (osv-scanner JSON); default: detected from the content."`
	Max    map[string]int `yaml:"max" json:"max" jsonschema:"required,description=Most findings allowed per severity (critical\\, high\\, medium\\, low\\, unknown)\\, e.g. {critical: 0\\, high: 2}; a severity left out is unlimited."`
}

// RiskPolicy lists the approval gates each risk level needs. A release
// into an environment gets a level from facts it already has: production
// (medium), a plan that deletes or replaces, a contract migration or
// break-glass (high); a failed previous release or a large change raises
// the level by one.
type RiskPolicy struct {
	Low    []Approval `yaml:"low,omitempty" json:"low,omitempty" jsonschema:"description=Gates a low-risk release needs (usually none)."`
	Medium []Approval `yaml:"medium,omitempty" json:"medium,omitempty" jsonschema:"description=Gates a medium-risk release needs."`
	High   []Approval `yaml:"high,omitempty" json:"high,omitempty" jsonschema:"description=Gates a high-risk release needs\\, e.g. two of the change advisory board and a business owner."`
	// LargeChange is the number of changed lines (deploy --changed-lines
	// or --commit-range) from which a change counts as large.
	LargeChange int `yaml:"large-change,omitempty" json:"large-change,omitempty" jsonschema:"minimum=1,description=Changed lines from which a change raises the risk by one level (default 500)."`
}

// Risk levels, lowest first.
const (
	RiskLow    = "low"
	RiskMedium = "medium"
	RiskHigh   = "high"
)

// Gates returns the approval gates of a risk level.
func (p *RiskPolicy) Gates(level string) []Approval {
	switch level {
	case RiskHigh:
		return p.High
	case RiskMedium:
		return p.Medium
	}
	return p.Low
}

// BreakGlass is the emergency group whose extra approval lets a release
// pass a closed release window or a change freeze.
type BreakGlass struct {
	Approvers    []string `yaml:"approvers" json:"approvers" jsonschema:"required,minItems=1,description=The emergency group: people or group:NAME."`
	MinApprovals int      `yaml:"min-approvals,omitempty" json:"min-approvals,omitempty" jsonschema:"minimum=1,description=Distinct approvals needed (default 1)."`
	Timeout      Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema:"description=How long the break-glass gate waits (default 1h)."`
}
