INSERT INTO accounts (id, email) VALUES (1, 'root@example.com');
COMMENT ON TABLE accounts IS 'people; and bots';
