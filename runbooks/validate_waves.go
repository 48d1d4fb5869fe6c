package runbooks

import (
	"fmt"
	"maps"
	"slices"
)

// waves checks that each wave's environments are neighbours, that the
// limits name waves that exist, and that a handover rule (soak, promote)
// sits on the last environment of its wave, where it applies to all.
func (v *validator) waves(rb *Runbook) {
	first := map[string]int{}
	for _, g := range Groups(rb.Environments) {
		w := rb.Environments[g[0]].Wave
		if w == "" {
			continue
		}
		if at, seen := first[w]; seen {
			v.errf(fmt.Sprintf("environments[%d].wave", g[0]), "wave %q is split: %s runs apart from %s; list a wave's environments next to each other",
				w, rb.Environments[g[0]].Name, rb.Environments[at].Name)
			continue
		}
		first[w] = g[0]
		for _, i := range g[:len(g)-1] {
			for _, k := range []string{"soak", "promote"} {
				if p := fmt.Sprintf("environments[%d].%s", i, k); v.has(p) {
					v.c.addf(v.keyAt(p), "%s applies when the whole wave %q is done; put it on the wave's last environment, %s", k, w, rb.Environments[g[len(g)-1]].Name)
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rb.Waves)) {
		p := "waves." + name
		if _, used := first[name]; !used {
			v.c.addf(v.keyAt(p), "no environment is in wave %q; name it with wave: %s on the environments, or remove it", name, name)
		}
		w := rb.Waves[name]
		if v.set(p+".max-parallel") && w.MaxParallel < 1 {
			v.errf(p+".max-parallel", "max-parallel %d must be 1 or more", w.MaxParallel)
		}
		v.oneOf(p+".on-failure", "on-failure", w.OnFailure, []string{WaveStop, WaveContinue},
			"stop (the default: start no more of the wave once one failed) or continue")
	}
}
