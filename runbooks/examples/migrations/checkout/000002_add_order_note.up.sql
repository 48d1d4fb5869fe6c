-- Adds the nullable note column that newer versions of the sample app store
-- with an order ("gift wrap"). Expand: older versions never name the column
-- (they insert item only), so they keep working while both versions run.
-- runbook: reversible
ALTER TABLE orders ADD COLUMN note TEXT;
