UPDATE users SET mail = lower(mail);
DELETE FROM users WHERE mail IS NULL;
TRUNCATE audit;
CREATE FUNCTION touch() RETURNS trigger AS $$ BEGIN NEW.updated = now(); RETURN NEW; END $$ LANGUAGE plpgsql;
