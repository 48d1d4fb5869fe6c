-- The old version still reads note until the traffic moved: contract.
ALTER TABLE items
	DROP COLUMN note;
