-- Additive, but its down file would drop whatever the new version wrote
-- into note: not marked reversible, so a rollback keeps it.
ALTER TABLE items ADD COLUMN note TEXT;
