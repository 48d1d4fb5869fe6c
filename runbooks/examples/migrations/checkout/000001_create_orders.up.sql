-- Creates the orders table the sample app writes to (POST /orders).
-- Expand: it only adds a table, so the running version is unaffected.
-- runbook: reversible
CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
