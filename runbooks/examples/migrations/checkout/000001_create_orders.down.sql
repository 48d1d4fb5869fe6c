-- Undoes 000001: drops the orders table, and with it every order.
DROP TABLE orders;
