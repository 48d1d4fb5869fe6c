package vuln

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The subset of `osv-scanner --format json` output that carries findings.
type osvOutput struct {
	Results *[]osvResult `json:"results"`
}

type osvResult struct {
	Packages []osvPackage `json:"packages"`
}

type osvPackage struct {
	Package struct {
		Name      string `json:"name"`
		Version   string `json:"version"`
		Ecosystem string `json:"ecosystem"`
	} `json:"package"`
	Vulnerabilities []osvVuln  `json:"vulnerabilities"`
	Groups          []osvGroup `json:"groups"`
}

type osvVuln struct {
	ID               string   `json:"id"`
	Aliases          []string `json:"aliases"`
	Summary          string   `json:"summary"`
	Details          string   `json:"details"`
	DatabaseSpecific struct {
		Severity json.RawMessage `json:"severity"`
	} `json:"database_specific"`
}

// osvGroup is one vulnerability known under several IDs; osv-scanner
// computes max_severity, the highest CVSS score among them, as a string.
type osvGroup struct {
	IDs         []string        `json:"ids"`
	Aliases     []string        `json:"aliases"`
	MaxSeverity json.RawMessage `json:"max_severity"`
}

// parseOSV makes one finding per alias group per package: a CVE reported by
// GHSA and by the Go database is one vulnerability, not two.
func parseOSV(data []byte) ([]Finding, error) {
	var doc osvOutput
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, jsonError(data, "OSV report", err)
	}
	if doc.Results == nil {
		return nil, errors.New("OSV report has no \"results\" array; pass `osv-scanner --format json` output")
	}
	var out []Finding
	for i, res := range *doc.Results {
		for j, pkg := range res.Packages {
			fs, err := osvPackageFindings(pkg)
			if err != nil {
				return nil, fmt.Errorf("OSV results[%d].packages[%d] (%s): %w", i, j, pkg.Package.Name, err)
			}
			out = append(out, fs...)
		}
	}
	return out, nil
}

// osvPackageFindings groups a package's vulnerabilities and makes findings.
func osvPackageFindings(pkg osvPackage) ([]Finding, error) {
	byID := make(map[string]osvVuln, len(pkg.Vulnerabilities))
	for k, v := range pkg.Vulnerabilities {
		if v.ID == "" {
			return nil, fmt.Errorf("vulnerabilities[%d] has no id", k)
		}
		byID[v.ID] = v
	}
	if pkg.Package.Name == "" && len(byID) > 0 {
		return nil, errors.New("package has no name")
	}
	// Older osv-scanner versions write no groups; build them from aliases.
	groups := slices.Concat(pkg.Groups, ungrouped(pkg.Vulnerabilities, pkg.Groups))
	where := osvWhere(pkg)
	out := make([]Finding, 0, len(groups))
	for k, g := range groups {
		f, err := osvFinding(g, byID, where)
		if err != nil {
			return nil, fmt.Errorf("groups[%d]: %w", k, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// osvFinding makes the finding for one group: severity from max_severity,
// else the most severe database_specific.severity word of its members.
func osvFinding(g osvGroup, byID map[string]osvVuln, where string) (Finding, error) {
	if len(g.IDs) == 0 || g.IDs[0] == "" {
		return Finding{}, errors.New("group has no ids")
	}
	score, err := parseScore(g.MaxSeverity)
	if err != nil {
		return Finding{}, fmt.Errorf("max_severity: %w", err)
	}
	members := groupMembers(g, byID)
	sev := severityOfScore(score)
	if sev == "" {
		sev = wordSeverity(members)
	}
	f := Finding{ID: g.IDs[0], Severity: sev, Score: score, Location: where, Aliases: groupAliases(g, members)}
	for _, m := range members {
		if f.Title = shorten(firstNonEmpty(m.Summary, m.Details), titleRunes); f.Title != "" {
			break
		}
	}
	return f, nil
}

// groupMembers returns the package's vulnerabilities named by the group.
func groupMembers(g osvGroup, byID map[string]osvVuln) []osvVuln {
	var out []osvVuln
	for _, id := range slices.Concat(g.IDs, g.Aliases) {
		if v, ok := byID[id]; ok && !slices.ContainsFunc(out, func(m osvVuln) bool { return m.ID == id }) {
			out = append(out, v)
		}
	}
	return out
}

// groupAliases lists every other name of the group's vulnerability once.
func groupAliases(g osvGroup, members []osvVuln) []string {
	all := slices.Concat(g.IDs[1:], g.Aliases)
	for _, m := range members {
		all = append(all, m.ID)
		all = append(all, m.Aliases...)
	}
	var out []string
	for _, a := range all {
		if a != "" && a != g.IDs[0] && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// ungrouped puts vulnerabilities no group names into groups of their own,
// merging those that share an ID or alias.
func ungrouped(vulns []osvVuln, groups []osvGroup) []osvGroup {
	named := map[string]bool{}
	for _, g := range groups {
		for _, id := range slices.Concat(g.IDs, g.Aliases) {
			named[id] = true
		}
	}
	var out []osvGroup
	for _, v := range vulns {
		if named[v.ID] {
			continue
		}
		names := append([]string{v.ID}, v.Aliases...)
		merged := osvGroup{IDs: []string{v.ID}, Aliases: v.Aliases}
		out = slices.DeleteFunc(out, func(g osvGroup) bool {
			if !overlaps(slices.Concat(g.IDs, g.Aliases), names) {
				return false
			}
			merged.IDs = append(g.IDs, merged.IDs...)
			merged.Aliases = append(g.Aliases, merged.Aliases...)
			return true
		})
		out = append(out, merged)
	}
	return out
}

func overlaps(a, b []string) bool {
	return slices.ContainsFunc(a, func(s string) bool { return slices.Contains(b, s) })
}

// wordSeverity maps database_specific.severity as GitHub advisories and
// most OSV databases write it; MODERATE is GitHub's word for medium.
func wordSeverity(members []osvVuln) string {
	best := Unknown
	for _, m := range members {
		var word string
		if json.Unmarshal(m.DatabaseSpecific.Severity, &word) != nil {
			continue
		}
		var sev string
		switch strings.ToUpper(strings.TrimSpace(word)) {
		case "CRITICAL":
			sev = Critical
		case "HIGH", "IMPORTANT":
			sev = High
		case "MODERATE", "MEDIUM":
			sev = Medium
		case "LOW":
			sev = Low
		default:
			continue
		}
		if rank(sev) < rank(best) {
			best = sev
		}
	}
	return best
}

// osvWhere is "name version (ecosystem)".
func osvWhere(pkg osvPackage) string {
	p := pkg.Package
	where := strings.TrimSpace(p.Name + " " + p.Version)
	if p.Ecosystem != "" {
		where += " (" + p.Ecosystem + ")"
	}
	return where
}
