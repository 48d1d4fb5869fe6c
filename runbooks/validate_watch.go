package runbooks

import (
	"fmt"
	"strings"
)

// watchVariables are the variables a watch journey may use: the release's
// own. Outputs and slots belong to the steps of a release, not to checks
// that run after it for an hour.
var watchVariables = []string{VarVersion, VarService, VarEnvironment, VarArtifact}

// watch checks an environment's watch journeys: names, intervals, and each
// journey as the journey step's validator checks it.
func (v *validator) watch(path string, e *Environment) {
	p := path + ".watch"
	if !v.ok(p) {
		return
	}
	if v.set(p) && len(e.Watch) == 0 {
		v.errf(p, "watch is empty; list journeys, e.g. watch: [{name: checkout, journey: {requests: [...]}}]")
	}
	names := map[string]pos{}
	for i := range e.Watch {
		wp := fmt.Sprintf("%s[%d]", p, i)
		if !v.ok(wp) {
			continue
		}
		w := &e.Watch[i]
		v.name(wp+".name", "watch name", w.Name)
		if at, dup := names[w.Name]; dup && w.Name != "" {
			v.errf(wp+".name", "watch name %q is already used at line %d; the journeys of a watch need distinct names", w.Name, at.line)
		} else if w.Name != "" {
			names[w.Name] = v.valAt(wp + ".name")
		}
		if ep := wp + ".every"; v.set(ep) && w.Every.D() < MinWatchEvery {
			v.errf(ep, "every %s is shorter than %s; a watch journey runs at most every %s", w.Every, MinWatchEvery, MinWatchEvery)
		}
		jp := wp + "." + KindJourney
		if !v.has(jp) {
			v.c.addf(v.keyAt(wp), "%s has no journey; add journey: {requests: [{name: ..., url: ...}]}", called("watch", w.Name))
			continue
		}
		if v.ok(jp) {
			v.journey(jp, &w.Journey)
			v.watchVariables(jp, &w.Journey)
		}
	}
}

// watchVariables refuses the variables a watch cannot know.
func (v *validator) watchVariables(path string, j *JourneyStep) {
	for i, r := range j.Requests {
		rp := fmt.Sprintf("%s.requests[%d]", path, i)
		for _, t := range r.JourneyTexts() {
			for _, name := range variableRefs(t[1]) {
				if strings.HasPrefix(name, VarJourneyPrefix) || contains(watchVariables, name) || !isKnownVariable(name) {
					continue
				}
				v.errf(join(rp, t[0]), "${%s} is not known to a watch, which runs after the release; use ${version}, ${service}, ${environment}, ${artifact} or ${journey.NAME}", name)
				break
			}
		}
	}
}
