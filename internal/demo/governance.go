package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/worker"
	"github.com/runbookhq/runbook/workflows"
)

// demoFreezeActor creates and lifts the demo's freezes.
const demoFreezeActor = "release-office"

// demoGovernance releases the checkout example twice under change freezes:
// the first release is held by a freeze declared while it runs and goes on
// when the freeze is lifted; the second passes an active freeze as a
// break-glass release, once demo-bot (in the runbook's break-glass group)
// approved. Every freeze it creates is lifted again, also when interrupted:
// a forgotten freeze would hold every later release of the service.
func (r *run) demoGovernance(ctx context.Context, cfg worker.Config, stamp string) (workflows.ReleaseStatus, string, error) {
	var st workflows.ReleaseStatus
	rb, in, err := r.demoInput(r.o.Runbook, r.o.Artifact)
	if err != nil {
		return st, "", err
	}
	if !r.o.Keep {
		defer r.demoTeardown(cfg, r.o.Runbook, rb)
	}
	rc, closeFn, err := worker.DialReleases(ctx, cfg, r.signer)
	if err != nil {
		return st, "", err
	}
	defer closeFn()
	g := &demoFreezes{r: r, rc: rc, service: rb.Service}
	defer g.liftAll()

	fmt.Fprintf(r.out, "\n=== release 1 of 2: %s 1.5.0-demo.%s, a freeze arrives while it runs ===\n", rb.Service, stamp)
	var frz freezes.Freeze
	held := func(s workflows.ReleaseStatus) {
		if frz.ID == "" && !s.Finished() {
			// Declared at the first sight of the release: it is in flight.
			frz = g.create(ctx, "quarter-end change freeze")
			return
		}
		if e, ok := s.Current(); ok && e.Name == "production" && heldBy(e, frz.ID) {
			fmt.Fprintf(r.out, "\nproduction is held by %s; a release manager lifts it:\n", frz.ID)
			g.lift(ctx, frz.ID, "quarter-end close done")
		}
	}
	st, link, err := r.demoRelease(ctx, cfg, in, "1.5.0-demo."+stamp, held)
	if err != nil || st.State != workflows.StateSucceeded {
		return st, link, err
	}

	fmt.Fprintf(r.out, "\n=== release 2 of 2: %s 1.5.1-demo.%s, break-glass through a freeze ===\n", rb.Service, stamp)
	g.create(ctx, "incident freeze")
	in.BreakGlassReason = "demo: INC-42 hotfix"
	fmt.Fprintf(r.out, "(deploy --break-glass --reason %q: the break-glass group must approve passing the freeze)\n", in.BreakGlassReason)
	return r.demoRelease(ctx, cfg, in, "1.5.1-demo."+stamp, nil)
}

// heldBy reports whether a step of e waits on the freeze id.
func heldBy(e workflows.EnvironmentStatus, id string) bool {
	for _, s := range e.Steps {
		if s.State == workflows.StateWaiting && strings.Contains(s.Detail, "held by freeze "+id+" ") {
			return true
		}
	}
	return false
}

// demoFreezes creates the demo's freezes of one service in production and
// remembers them to lift what is left.
type demoFreezes struct {
	r       *run
	rc      *releases.Client
	service string
	active  []string
}

func (g *demoFreezes) create(ctx context.Context, reason string) freezes.Freeze {
	fmt.Fprintf(g.r.out, "\n$ runbook freeze create --service %s --env production --reason %q --as %s\n", g.service, reason, demoFreezeActor)
	f, err := g.rc.CreateFreeze(ctx, freezes.CreateInput{Services: []string{g.service}, Environments: []string{"production"},
		Reason: reason, Actor: demoFreezeActor})
	if err != nil {
		fmt.Fprintln(g.r.errOut, "freeze create:", err)
		return f
	}
	g.active = append(g.active, f.ID)
	fmt.Fprintf(g.r.out, "created %s\n\n", f.Describe())
	return f
}

func (g *demoFreezes) lift(ctx context.Context, id, reason string) {
	fmt.Fprintf(g.r.out, "$ runbook freeze lift %s --reason %q --as %s\n", id, reason, demoFreezeActor)
	if _, err := g.rc.LiftFreeze(ctx, freezes.LiftInput{ID: id, Reason: reason, Actor: demoFreezeActor}); err != nil {
		fmt.Fprintln(g.r.errOut, "freeze lift:", err)
		return
	}
	g.active = slices.DeleteFunc(g.active, func(x string) bool { return x == id })
	fmt.Fprintf(g.r.out, "lifted %s\n\n", id)
}

// liftAll lifts the freezes still active, with a context of its own: the
// demo's may be cancelled already.
func (g *demoFreezes) liftAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range append([]string(nil), g.active...) {
		g.lift(ctx, id, "demo finished")
	}
}
