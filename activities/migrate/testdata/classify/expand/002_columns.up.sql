ALTER TABLE accounts ADD COLUMN nickname text;
ALTER TABLE accounts ADD COLUMN plan text NOT NULL DEFAULT 'free',
	ADD COLUMN IF NOT EXISTS seq bigserial NOT NULL;
ALTER TABLE accounts ALTER COLUMN nickname SET DEFAULT '';
ALTER TYPE mood ADD VALUE 'happy';
