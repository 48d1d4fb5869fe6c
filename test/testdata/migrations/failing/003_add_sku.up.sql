-- runbook: reversible
ALTER TABLE items ADD COLUMN sku TEXT;
INSERT INTO items (id, name, nope) VALUES (1, 'first', 'x');
