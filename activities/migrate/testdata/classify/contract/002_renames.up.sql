ALTER TABLE accounts RENAME TO users;
ALTER TABLE users RENAME COLUMN email TO mail;
