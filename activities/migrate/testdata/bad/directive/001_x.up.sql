-- runbook: reversable
CREATE TABLE x (a int);
