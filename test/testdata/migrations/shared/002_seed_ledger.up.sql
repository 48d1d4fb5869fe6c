-- Applied twice, this would leave two rows: the test counts them.
INSERT INTO ledger (entry) VALUES ('opened');
