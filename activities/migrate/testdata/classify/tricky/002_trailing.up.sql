SET lock_timeout = '5s';
BEGIN;
CREATE INDEX t2_a ON t2 (a);
COMMIT;
update t2 set b = 1
