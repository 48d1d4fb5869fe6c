DROP TABLE old_things;
ALTER TABLE accounts
	DROP COLUMN legacy;
DROP INDEX IF EXISTS accounts_email;
