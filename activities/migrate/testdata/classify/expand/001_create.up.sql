CREATE TABLE IF NOT EXISTS accounts (id bigint PRIMARY KEY, email text NOT NULL);
CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_email ON accounts (email);
create view active_accounts as select * from accounts;
CREATE SEQUENCE invoice_no;
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE EXTENSION IF NOT EXISTS pgcrypto;
