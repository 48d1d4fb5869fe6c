-- A new function only adds; the rules do not know CREATE FUNCTION.
-- runbook: expand
CREATE FUNCTION touch() RETURNS trigger AS $$ BEGIN NEW.updated = now(); RETURN NEW; END $$ LANGUAGE plpgsql;
