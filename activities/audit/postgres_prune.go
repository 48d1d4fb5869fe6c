package audit

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Prune removes the rows at the start of the table older than in.Before and
// appends an ActionPruned entry recording them and the anchor, in one
// transaction under the append lock. It verifies the whole table first and
// refuses a broken one. The rows are deleted by runbook_audit_prune, which
// the append-only trigger lets through only after checking that the chain's
// last entry records exactly this prune.
func (p *Postgres) Prune(ctx context.Context, in PruneInput) (PruneResult, error) {
	var res PruneResult
	var cp Checkpoint
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", appendLockKey); err != nil {
			return err
		}
		// Only the prefix that may go is kept in memory.
		var prefix []Entry
		var tail Entry
		open := true
		c, err := p.scanAll(ctx, tx, func(e Entry) {
			tail = e
			if open = open && e.Time.Before(in.Before); open {
				prefix = append(prefix, e)
			}
		})
		if err != nil {
			return fmt.Errorf("the log does not verify, nothing pruned: %w", err)
		}
		pruned, n, err := planPrune(prefix, &c, in)
		if err != nil || n == 0 {
			return err
		}
		if pruned, cp, err = p.insert(ctx, tx, pruned, tail); err != nil {
			return err
		}
		pr := pruned.Pruned
		var deleted int64
		if err := tx.QueryRow(ctx, "SELECT runbook_audit_prune($1, $2, $3, $4)", pr.FromSeq, pr.ToSeq, pr.AnchorHash, pr.Before).Scan(&deleted); err != nil {
			return err
		}
		if deleted != int64(n) {
			return fmt.Errorf("runbook_audit_prune deleted %d rows, expected %d; rolled back", deleted, n)
		}
		res = PruneResult{Removed: deleted, Entry: pruned}
		return nil
	})
	if err != nil {
		return PruneResult{}, p.wrap("prune", err)
	}
	p.afterAppend(cp)
	return res, nil
}
