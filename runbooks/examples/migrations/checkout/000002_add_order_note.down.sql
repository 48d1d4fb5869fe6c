-- Undoes 000002: drops the note column (SQLite 3.35 or later), and the notes
-- stored in it. Older versions of the sample app do not read it.
ALTER TABLE orders DROP COLUMN note;
