-- DROP TABLE in a comment; is not a statement
/* nor DROP TABLE x; /* nested; */ here; */
INSERT INTO notes (body) VALUES ('DROP TABLE notes; -- not a comment'), (E'it\'s; DELETE'), ($body$ TRUNCATE t; $body$);
INSERT INTO "DROP" ("UPDATE") VALUES ($$;$$);
CREATE TABLE t2 (a int);ALTER TABLE t2 ADD COLUMN b int
