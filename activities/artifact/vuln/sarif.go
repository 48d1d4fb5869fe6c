package vuln

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// The subset of SARIF 2.1.0 that carries findings and their severity.
type sarifLog struct {
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool struct {
		Driver     sarifComponent   `json:"driver"`
		Extensions []sarifComponent `json:"extensions"`
	} `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifComponent struct {
	Name  string      `json:"name"`
	Rules []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string     `json:"id"`
	Name                 string     `json:"name"`
	ShortDescription     sarifText  `json:"shortDescription"`
	FullDescription      sarifText  `json:"fullDescription"`
	DefaultConfiguration sarifLevel `json:"defaultConfiguration"`
	Properties           sarifProps `json:"properties"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifLevel struct {
	Level string `json:"level"`
}

type sarifProps struct {
	SecuritySeverity json.RawMessage `json:"security-severity"`
}

type sarifResult struct {
	RuleID        string             `json:"ruleId"`
	RuleIndex     *int               `json:"ruleIndex"`
	Rule          *sarifRuleRef      `json:"rule"`
	Kind          string             `json:"kind"`
	Level         string             `json:"level"`
	Message       sarifText          `json:"message"`
	Locations     []sarifLocation    `json:"locations"`
	Properties    sarifProps         `json:"properties"`
	Suppressions  []sarifSuppression `json:"suppressions"`
	BaselineState string             `json:"baselineState"`
}

type sarifRuleRef struct {
	ID            string `json:"id"`
	Index         *int   `json:"index"`
	ToolComponent *struct {
		Index *int `json:"index"`
	} `json:"toolComponent"`
}

type sarifLocation struct {
	Message          sarifText `json:"message"`
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region struct {
			StartLine int `json:"startLine"`
		} `json:"region"`
	} `json:"physicalLocation"`
}

type sarifSuppression struct {
	Status string `json:"status"`
}

// parseSARIF turns every failing, unsuppressed result into a finding.
func parseSARIF(data []byte) ([]Finding, error) {
	var log sarifLog
	if err := json.Unmarshal(data, &log); err != nil {
		return nil, jsonError(data, "SARIF report", err)
	}
	if log.Runs == nil {
		return nil, fmt.Errorf("SARIF report has no \"runs\" array; is it SARIF?")
	}
	if log.Version != "2.1.0" {
		return nil, fmt.Errorf("SARIF report has version %q; only 2.1.0 is read, ask the scanner for SARIF 2.1.0", log.Version)
	}
	var out []Finding
	seen := map[[2]string]bool{}
	for i, run := range log.Runs {
		for j, res := range run.Results {
			f, ok, err := sarifFinding(run, res)
			if err != nil {
				return nil, fmt.Errorf("SARIF runs[%d].results[%d]: %w", i, j, err)
			}
			// Several runs of one scan repeat a result; count it once.
			if key := [2]string{f.ID, f.Location}; ok && !seen[key] {
				seen[key] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// sarifFinding builds the finding for one result; ok is false for results
// that are not open failures (passes, suppressions, fixed, level "none").
func sarifFinding(run sarifRun, res sarifResult) (Finding, bool, error) {
	if !isOpen(res) {
		return Finding{}, false, nil
	}
	rule, err := findRule(run, res)
	if err != nil {
		return Finding{}, false, err
	}
	id := firstNonEmpty(res.RuleID, ruleRefID(res.Rule), rule.ID)
	if id == "" {
		return Finding{}, false, fmt.Errorf("result has no ruleId; the report cannot name the finding")
	}
	sev, score, err := sarifSeverity(res, rule)
	if err != nil || sev == "" {
		return Finding{}, false, err
	}
	title := firstNonEmpty(rule.ShortDescription.Text, rule.Name, res.Message.Text, rule.FullDescription.Text)
	return Finding{ID: id, Severity: sev, Score: score, Location: sarifWhere(res), Title: shorten(title, titleRunes)}, true, nil
}

// isOpen reports whether a result is a live failure. SARIF's default kind is
// "fail"; a suppression without a status, or "accepted", hides the result.
func isOpen(res sarifResult) bool {
	if res.Kind != "" && res.Kind != "fail" {
		return false
	}
	if res.BaselineState == "absent" {
		return false
	}
	for _, s := range res.Suppressions {
		if s.Status == "" || s.Status == "accepted" {
			return false
		}
	}
	return true
}

// sarifSeverity takes the security-severity score of the result, else of its
// rule; without one it falls back to the level (the result's, else the
// rule's default, else SARIF's default "warning"). An empty severity means
// level "none": not a problem.
func sarifSeverity(res sarifResult, rule sarifRule) (string, float64, error) {
	for _, raw := range []json.RawMessage{res.Properties.SecuritySeverity, rule.Properties.SecuritySeverity} {
		score, err := parseScore(raw)
		if err != nil {
			return "", 0, fmt.Errorf("security-severity: %w", err)
		}
		if score > 0 {
			return severityOfScore(score), score, nil
		}
	}
	switch level := firstNonEmpty(res.Level, rule.DefaultConfiguration.Level, "warning"); level {
	case "error":
		return High, 0, nil
	case "warning":
		return Medium, 0, nil
	case "note":
		return Low, 0, nil
	case "none":
		return "", 0, nil
	default:
		return "", 0, fmt.Errorf("level %q is not error, warning, note or none", level)
	}
}

// findRule resolves the result's rule by index (into the driver or the
// extension named by toolComponent), else by ID. A result may have none.
func findRule(run sarifRun, res sarifResult) (sarifRule, error) {
	comp, idx := run.Tool.Driver, res.RuleIndex
	if ref := res.Rule; ref != nil {
		if ref.Index != nil {
			idx = ref.Index
		}
		if tc := ref.ToolComponent; tc != nil && tc.Index != nil {
			if *tc.Index < 0 || *tc.Index >= len(run.Tool.Extensions) {
				return sarifRule{}, fmt.Errorf("rule.toolComponent.index %d is outside tool.extensions", *tc.Index)
			}
			comp = run.Tool.Extensions[*tc.Index]
		}
	}
	if idx != nil && *idx >= 0 {
		if *idx >= len(comp.Rules) {
			return sarifRule{}, fmt.Errorf("ruleIndex %d is outside the %d rules of %q", *idx, len(comp.Rules), comp.Name)
		}
		return comp.Rules[*idx], nil
	}
	id := firstNonEmpty(res.RuleID, ruleRefID(res.Rule))
	for _, c := range append([]sarifComponent{run.Tool.Driver}, run.Tool.Extensions...) {
		for _, r := range c.Rules {
			if id != "" && r.ID == id {
				return r, nil
			}
		}
	}
	return sarifRule{}, nil
}

func ruleRefID(ref *sarifRuleRef) string {
	if ref == nil {
		return ""
	}
	return ref.ID
}

// sarifWhere describes the first location: its message when it has one
// (Trivy writes "image: package@version" there), else "uri[:line]".
func sarifWhere(res sarifResult) string {
	if len(res.Locations) == 0 {
		return ""
	}
	if msg := shorten(res.Locations[0].Message.Text, titleRunes); msg != "" {
		return msg
	}
	pl := res.Locations[0].PhysicalLocation
	where := pl.ArtifactLocation.URI
	if line := pl.Region.StartLine; where != "" && line > 0 {
		where += ":" + strconv.Itoa(line)
	}
	return where
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
