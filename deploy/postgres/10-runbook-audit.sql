-- The database of runbook's audit table (runbook_audit), created on the first
-- start of the compose PostgreSQL (it runs /docker-entrypoint-initdb.d once, on
-- an empty data directory). The worker creates the table, its append-only
-- trigger and the prune function itself.
CREATE DATABASE runbook_audit;
