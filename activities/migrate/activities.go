package migrate

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
)

// Status reads the database's schema version and sorts the migrations into
// applied and pending. It reads without golang-migrate's lock, so Dirty is
// also true while another migrator is running the migration to Version.
// (Opening the Postgres driver does take the lock for a moment, to create
// the migrations table: a Status during a long migration may wait for it
// and return ErrLocked.)
func (a *Activities) Status(ctx context.Context, in StatusInput) (StatusResult, error) {
	s, err := a.open(ctx, in.Target, "status")
	if err != nil {
		return StatusResult{}, err
	}
	defer s.close()
	return s.status()
}

// Up applies the migrations above the current version up to in.To, in
// order, heartbeating Progress. When in.AllowContract is false and any of
// them is contract, it returns ErrContract before applying anything. A
// migration that fails leaves the database dirty: ErrDirty, never retried.
// The plan is checked again under golang-migrate's lock, so a concurrent
// migrator that got there first turns this call into a no-op.
func (a *Activities) Up(ctx context.Context, in UpInput) (UpResult, error) {
	s, err := a.open(ctx, in.Target, "up")
	if err != nil {
		return UpResult{}, err
	}
	defer s.close()
	st, err := s.status()
	if err != nil {
		return UpResult{}, err
	}
	res := UpResult{From: st.Version, To: st.Version, HadVersion: st.HasVersion}
	to, ok, err := s.upTarget(in.To)
	if err != nil || !ok {
		return res, err
	}
	// Read without the lock, a dirty version may be another migrator's
	// migration in progress: only the check under the lock decides.
	todo := s.between(versionOf(st), int(to))
	if len(todo) == 0 && !st.Dirty {
		return res, nil
	}
	if !in.AllowContract {
		if err := refuseContract(todo); err != nil {
			return res, err
		}
	}
	s.g.check = func(v int, dirty bool) error {
		if dirty {
			return s.dirtyAtStart(v)
		}
		todo := s.between(v, int(to))
		if len(todo) == 0 {
			return errNothingToDo // and never down: Migrate(to) would go there
		}
		s.setTotal(len(todo))
		if !in.AllowContract {
			return refuseContract(todo)
		}
		return nil
	}
	s.setTotal(len(todo)) // the first heartbeat goes out at once; the lock may refine it
	s.log("migrate up", "from", versionOf(st), "to", to)
	err = s.run(func() error { return s.m.Migrate(to) })
	s.mu.Lock()
	defer s.mu.Unlock()
	res.Applied = s.applied
	if s.from != nil {
		res.From, res.HadVersion = uint(max(*s.from, 0)), *s.from >= 0
		res.To = res.From
	}
	if s.last != nil {
		res.To = uint(max(*s.last, 0))
	}
	return res, err
}

// Down reverts the migrations above in.To (all of them with ToNothing),
// newest first. It refuses with ErrIrreversible, reverting nothing, when
// any of them is not marked reversible. A database at or below in.To is
// left alone, so a compensation retried after it succeeded is a no-op.
func (a *Activities) Down(ctx context.Context, in DownInput) (DownResult, error) {
	s, err := a.open(ctx, in.Target, "down")
	if err != nil {
		return DownResult{}, err
	}
	defer s.close()
	st, err := s.status()
	if err != nil {
		return DownResult{}, err
	}
	res := DownResult{From: st.Version, To: st.Version}
	target, name := -1, "nothing (every migration)"
	if !in.ToNothing {
		if !s.has(in.To) {
			return res, invalid("version %d is not in the migrations directory %s; set ToNothing to revert every migration", in.To, s.dir)
		}
		target, name = int(in.To), fmt.Sprint(in.To)
	}
	todo := s.between(target, versionOf(st))
	if len(todo) == 0 && !st.Dirty { // dirty: decided under the lock, as in Up
		return res, nil
	}
	if err := refuseIrreversible(todo, name); err != nil {
		return res, err
	}
	s.g.check = func(v int, dirty bool) error {
		if dirty {
			return s.dirtyAtStart(v)
		}
		todo := s.between(target, v)
		if len(todo) == 0 {
			return errNothingToDo
		}
		s.setTotal(len(todo))
		return refuseIrreversible(todo, name)
	}
	s.setTotal(len(todo))
	s.log("migrate down", "from", versionOf(st), "to", target)
	err = s.run(func() error {
		if in.ToNothing {
			return s.m.Down()
		}
		return s.m.Migrate(uint(target))
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.from != nil {
		res.From = uint(max(*s.from, 0))
		res.To = res.From
	}
	if s.last != nil {
		res.To = uint(max(*s.last, 0))
	}
	return res, err
}

// Force records in.Version as the clean schema version without running
// anything: after a failed migration, once a person has checked the schema
// and knows which version it is at.
func (a *Activities) Force(ctx context.Context, in ForceInput) (ForceResult, error) {
	s, err := a.open(ctx, in.Target, "force")
	if err != nil {
		return ForceResult{}, err
	}
	defer s.close()
	if in.Version < -1 || in.Version >= 0 && !s.has(uint(in.Version)) {
		return ForceResult{}, invalid("version %d is not in the migrations directory %s (-1 means no version)", in.Version, s.dir)
	}
	s.log("migrate force", "version", in.Version)
	if err := s.m.Force(in.Version); err != nil {
		return ForceResult{}, s.c.fail(ctx, "force", err)
	}
	st, err := s.status()
	if err != nil {
		return ForceResult{}, err
	}
	return ForceResult{Version: versionOf(st)}, nil
}

// status reads the version without the lock, straight from the driver:
// golang-migrate's Version hides a dirty nil version (a failed revert of
// the first migration).
func (s *session) status() (StatusResult, error) {
	v, dirty, err := s.g.Driver.Version()
	if err != nil {
		return StatusResult{}, s.c.fail(s.ctx, "read the version of", err)
	}
	res := StatusResult{Dirty: dirty, HasVersion: v >= 0, Version: uint(max(v, 0))}
	for _, e := range s.entries {
		if res.HasVersion && e.Version <= res.Version {
			res.Applied = append(res.Applied, e.Migration)
		} else {
			res.Pending = append(res.Pending, e.Migration)
		}
	}
	return res, nil
}

// versionOf is the version as golang-migrate counts it: -1 for none.
func versionOf(st StatusResult) int {
	if !st.HasVersion {
		return -1
	}
	return int(st.Version)
}

// upTarget is the version Up goes to; ok is false without migrations.
func (s *session) upTarget(to uint) (uint, bool, error) {
	if len(s.entries) == 0 {
		return 0, false, nil
	}
	if to == 0 {
		return s.entries[len(s.entries)-1].Version, true, nil
	}
	if !s.has(to) {
		return 0, false, invalid("version %d is not in the migrations directory %s", to, s.dir)
	}
	return to, true, nil
}

func (s *session) has(v uint) bool {
	for _, e := range s.entries {
		if e.Version == v {
			return true
		}
	}
	return false
}

// between returns the migrations above lo up to hi, in order.
func (s *session) between(lo, hi int) []entry {
	var out []entry
	for _, e := range s.entries {
		if int(e.Version) > lo && int(e.Version) <= hi {
			out = append(out, e)
		}
	}
	return out
}

func (s *session) setTotal(n int) {
	s.mu.Lock()
	s.progress.Total = n
	s.mu.Unlock()
}

// log writes to the activity's logger; only the redacted name of the
// database goes into it.
func (s *session) log(msg string, kv ...any) {
	if activity.IsActivity(s.ctx) {
		activity.GetLogger(s.ctx).Info(msg, append([]any{"db", s.c.logName, "migrations", s.dir}, kv...)...)
	}
}
