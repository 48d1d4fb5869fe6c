-- runbook: reversible
ALTER TABLE items ADD COLUMN note TEXT;
