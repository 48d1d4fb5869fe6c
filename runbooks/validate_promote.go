package runbooks

import (
	"fmt"
	"slices"
	"time"
)

// maxSoak caps a soak: a release holds its next environment meanwhile.
const maxSoak = 30 * 24 * time.Hour

// promotion checks how each environment hands over to the next one.
func (v *validator) promotion(envs []Environment) {
	for i := range envs {
		e, path := &envs[i], fmt.Sprintf("environments[%d]", i)
		last := i == len(envs)-1
		v.oneOf(path+".promote", "promote", e.Promote, []string{PromoteAuto, PromoteManual},
			"auto (the default: the next environment starts when this one succeeded) or manual (it waits for runbook promote-env)")
		for _, k := range []string{"promote", "soak"} {
			if p := path + "." + k; last && v.has(p) {
				v.c.addf(v.keyAt(p), "%s is about going on to the next environment, and %s is the last one; remove it", k, called("environment", e.Name))
			}
		}
		for _, k := range []string{"promote-approvers", "promote-timeout"} {
			if p := path + "." + k; v.has(p) && e.Promote != PromoteManual {
				v.c.addf(v.keyAt(p), "%s only applies with promote: manual; add it or remove %s", k, k)
			}
		}
		if p := path + ".soak"; v.set(p) && (e.Soak <= 0 || e.Soak.D() > maxSoak) {
			v.errf(p, "soak %s must be more than 0 and at most 30d", e.Soak)
		}
		if p := path + ".promote-timeout"; v.set(p) && e.PromoteTimeout <= 0 {
			v.errf(p, "promote-timeout must be longer than 0, e.g. 7d")
		}
		v.rollbackProfile(path+".rollback-profile", e.RollbackProfile)
		if e.Promote == PromoteManual && !last && slices.ContainsFunc(envs[i+1].Approvals, func(a Approval) bool { return a.Name == PromoteGate }) {
			v.c.addf(v.keyAt(fmt.Sprintf("environments[%d].approvals", i+1)), "gate name %q is taken by the promotion from %s (promote: manual); rename this gate", PromoteGate, e.Name)
		}
	}
}

// WithPromotionGates returns rb with a gate named promote at the start of
// every environment that follows one with promote: manual: the promotion
// is a decision like any other gate's (signed where the environment wants
// it, in the CLI, Slack or the Web UI), made when the next environment
// starts, which may be days after the last one ended.
func WithPromotionGates(rb Runbook) Runbook {
	envs := slices.Clone(rb.Environments)
	groups := Groups(envs)
	for k := 0; k+1 < len(groups); k++ {
		// A wave hands over from its last environment, to every one of
		// the next wave.
		e := envs[groups[k][len(groups[k])-1]]
		if e.Promote != PromoteManual {
			continue
		}
		for _, n := range groups[k+1] {
			next := &envs[n]
			next.Approvals = append([]Approval{promotionGate(e, *next)}, slices.Clone(next.Approvals)...)
		}
	}
	rb.Environments = envs
	return rb
}

// promotionGate is the gate next opens when e before it has promote: manual.
func promotionGate(e, next Environment) Approval {
	g := Approval{Name: PromoteGate, MinApprovals: 1, Approvers: e.PromoteApprovers, Timeout: e.PromoteTimeout,
		Instructions: fmt.Sprintf("Promote to %s: %s succeeded; check it, then approve (runbook promote-env) to start %s.", next.Name, e.Name, next.Name)}
	if g.Timeout == 0 {
		g.Timeout = DefaultPromoteTimeout
	}
	if len(g.Approvers) == 0 {
		for _, a := range next.Approvals {
			for _, who := range a.Approvers {
				if !slices.Contains(g.Approvers, who) {
					g.Approvers = append(g.Approvers, who)
				}
			}
		}
	}
	return g
}

// rollbackProfile checks how a rollback runs in an environment.
func (v *validator) rollbackProfile(path string, p *RollbackProfile) {
	if p == nil || !v.ok(path) {
		return
	}
	if p.NoGate && len(p.Approvals) > 0 {
		v.c.addf(v.keyAt(path+".no-gate"), "no-gate drops every gate of a rollback, and approvals names some; keep one of them")
	}
	names := map[string]pos{}
	for i := range p.Approvals {
		gp := fmt.Sprintf("%s.approvals[%d]", path, i)
		if v.ok(gp) {
			v.gate(gp, &p.Approvals[i])
			v.uniqueName(names, gp+".name", p.Approvals[i].Name, "rollback gate")
		}
	}
	if mp := path + ".max-bake"; v.set(mp) && (p.MaxBake.D() < time.Second || p.MaxBake.D() > time.Hour) {
		v.errf(mp, "max-bake %s must be from 1s to 1h: a rollback confirms a version that ran here before", p.MaxBake)
	}
}
