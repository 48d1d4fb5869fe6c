-- runbook: reversible
ALTER TABLE items ADD COLUMN note TEXT;
INSERT INTO items (id, name, note) VALUES (1, 'first', 'kept until 003');
