-- runbook: reversible
-- runbook: expand
-- Waits for an advisory lock the test holds, so the migration is running
-- when the test aborts the release; lock_timeout = 0 waits without limit.
SET lock_timeout = 0;
SELECT pg_advisory_xact_lock(7411);
ALTER TABLE items ADD COLUMN note TEXT;
