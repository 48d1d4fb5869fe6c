CREATE TABLE x (a int);
