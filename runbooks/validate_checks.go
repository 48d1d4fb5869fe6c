package runbooks

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

var (
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	schemeRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)
	// ociRe is oci://host[:port]/repo[/...][:tag|@sha256:hex].
	ociRe = regexp.MustCompile(`^oci://[A-Za-z0-9.-]+(:[0-9]+)?/[a-z0-9]+([._/-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[0-9a-f]{64})?$`)
)

// set reports whether the field at path was written with a value of the
// right type (not left empty to take the default).
func (v *validator) set(path string) bool {
	return v.ok(path) && !v.locs[path].null
}

// artifact checks what is released. The digest may be left out here and
// given at deploy time, so only its form is checked.
func (v *validator) artifact(a Artifact) {
	if !v.has("artifact") {
		v.errf("artifact", "artifact is missing; add artifact: with a reference: (a local path, or a file:// or http(s):// URL)")
		return
	}
	if !v.ok("artifact") {
		return
	}
	const hint = "add where the artifact lives: a local path, or a file://, http:// or https:// URL"
	if v.required("artifact.reference", "artifact.reference", a.Reference, hint) {
		v.reference("artifact.reference", a.Reference)
	}
	if a.Digest != "" && !digestRe.MatchString(a.Digest) {
		v.errf("artifact.digest", "artifact.digest %q is not a digest; write sha256: followed by 64 lowercase hex digits, or leave it out and pass --digest at deploy time", a.Digest)
	}
	if a.Signature != nil && v.ok("artifact.signature") {
		v.required("artifact.signature.public-key", "artifact.signature.public-key", a.Signature.PublicKey,
			"add the path of the public key (cosign.pub), relative to the runbook")
	}
	if a.Vulnerabilities != nil && v.ok("artifact.vulnerabilities") {
		v.vulnerabilities("artifact.vulnerabilities", a.Vulnerabilities)
	}
}

// severities are the levels a vulnerability limit may name.
var severities = []string{"critical", "high", "medium", "low", "unknown"}

// vulnerabilities checks the report reference and the limits.
func (v *validator) vulnerabilities(path string, p *VulnerabilityPolicy) {
	v.required(path+".report", "the vulnerability report", p.Report, "add where the scan report is (SARIF or osv-scanner JSON)")
	if f := path + ".format"; v.ok(f) && p.Format != "" && p.Format != "sarif" && p.Format != "osv" {
		v.errf(f, "format %q is not known; use sarif or osv, or leave it out to detect it", p.Format)
	}
	if !v.has(path + ".max") {
		v.errf(path, "vulnerabilities needs max: the most findings allowed per severity, e.g. {critical: 0, high: 2}")
		return
	}
	for _, sev := range slices.Sorted(maps.Keys(p.Max)) {
		p2 := path + ".max." + sev
		switch {
		case !contains(severities, sev):
			v.errf(p2, "%q is not a severity; use %s", sev, strings.Join(severities, ", "))
		case p.Max[sev] < 0:
			v.errf(p2, "max %s is %d; use 0 for none allowed", sev, p.Max[sev])
		}
	}
}

// reference checks that the artifact is somewhere this version can read
// and verify: a path (resolved against the runbook's directory by the
// CLI), a file:// URL or an http(s):// URL.
func (v *validator) reference(path, ref string) {
	m := schemeRe.FindStringSubmatch(ref)
	if m == nil {
		return // a local path
	}
	switch scheme := strings.ToLower(m[1]); scheme {
	case "http", "https":
		v.httpURL(path, "artifact.reference", ref)
	case "oci":
		if path != "artifact.reference" || !ociRe.MatchString(withPlaceholders(ref)) {
			v.errf(path, "%q is not an image reference; write oci://registry[:port]/repository[:tag|@sha256:...]", ref)
		}
	case "file":
		u, err := url.Parse(withPlaceholders(ref))
		if err != nil || u.Path == "" || (u.Host != "" && u.Host != "localhost") {
			v.errf(path, "artifact.reference %q is not a usable file:// URL; write file:///absolute/path, or just the path", ref)
		}
	default:
		v.errf(path, "artifact.reference uses %s://, but only local paths, file://, http(s):// and oci:// artifacts can be verified in this version", scheme)
	}
}

// gate checks an environment approval gate.
func (v *validator) gate(path string, a *Approval) {
	v.name(path+".name", "approval gate name", a.Name)
	v.approvers(path, a.Approvers, a.MinApprovals)
}

// approvers checks who may approve and how many must: a gate that needs
// more distinct approvers than it lists could never pass.
func (v *validator) approvers(path string, list []string, minApprovals int) {
	seen := map[string]pos{}
	groups := false
	for i, a := range list {
		groups = groups || strings.HasPrefix(a, GroupPrefix)
		p := fmt.Sprintf("%s.approvers[%d]", path, i)
		if !v.ok(p) {
			continue
		}
		if strings.TrimSpace(a) == "" {
			v.errf(p, "approver is empty; write a user name")
			continue
		}
		if first, dup := seen[a]; dup {
			v.errf(p, "approver %q is listed twice; the first one is at line %d", a, first.line)
			continue
		}
		seen[a] = v.valAt(p)
	}
	mp := path + ".min-approvals"
	switch {
	case v.set(mp) && minApprovals < 1:
		v.errf(mp, "min-approvals must be at least 1; leave it out for the default of 1")
	case len(seen) > 0 && !groups && minApprovals > len(seen):
		// A group:NAME entry stands for any number of people.
		v.errf(mp, "min-approvals is %d but only %s listed; the gate could never pass", minApprovals, plural(len(seen), "approver is", "approvers are"))
	}
}

// plural formats a count with the singular or plural phrase after it.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// policy checks the release-wide rules.
func (v *validator) policy(p *Policy, envs []Environment) {
	v.identityMode("policy.identity", p.Identity)
	for i := range envs {
		v.identityMode(fmt.Sprintf("environments[%d].identity", i), envs[i].Identity)
	}
	if p.Risk != nil && v.ok("policy.risk") {
		v.risk(p.Risk, envs)
	}
	if p.BreakGlass == nil || !v.ok("policy.break-glass") {
		return
	}
	path := "policy.break-glass"
	if len(p.BreakGlass.Approvers) == 0 {
		v.errf(path+".approvers", "break-glass needs its emergency approvers; list people or group:NAME under approvers")
	}
	v.approvers(path, p.BreakGlass.Approvers, p.BreakGlass.MinApprovals)
}

// GroupPrefix marks an approver entry that names a group, e.g.
// "group:release-managers"; whoever decides must belong to it.
const GroupPrefix = "group:"

// risk checks the gates of each risk level. Their names share the
// environment's step list, so they must not clash with any step or gate.
func (v *validator) risk(p *RiskPolicy, envs []Environment) {
	taken := map[string]bool{}
	for _, e := range envs {
		for _, a := range e.Approvals {
			taken[a.Name] = true
		}
		for _, s := range e.Steps {
			taken[s.Name] = true
		}
	}
	for _, lv := range []struct {
		name  string
		gates []Approval
	}{{RiskLow, p.Low}, {RiskMedium, p.Medium}, {RiskHigh, p.High}} {
		seen := map[string]bool{}
		for i := range lv.gates {
			path := fmt.Sprintf("policy.risk.%s[%d]", lv.name, i)
			if !v.ok(path) {
				continue
			}
			g := &lv.gates[i]
			v.gate(path, g)
			switch {
			case taken[g.Name]:
				v.errf(path+".name", "gate name %q is also a step or approval of an environment; give the risk gate its own name, e.g. %s-approval", g.Name, lv.name)
			case seen[g.Name]:
				v.errf(path+".name", "gate %q is listed twice under %s", g.Name, lv.name)
			}
			seen[g.Name] = true
		}
	}
	if lc := "policy.risk.large-change"; v.set(lc) && p.LargeChange < 1 {
		v.errf(lc, "large-change must be at least 1 changed line; leave it out for the default of 500")
	}
}

// identityMode checks a policy.identity or environment identity value.
func (v *validator) identityMode(path, mode string) {
	if mode == "" || mode == IdentitySigned || mode == IdentityUnsigned || !v.ok(path) {
		return
	}
	v.errf(path, "identity %q is not known; use signed (decisions need a verified signature) or unsigned (names taken as given, for laptops)", mode)
}
