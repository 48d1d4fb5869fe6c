package audit

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// scanResult says how far a scan got.
type scanResult struct {
	// consumed counts the bytes of complete, valid lines.
	consumed int64
	// tail counts the bytes of a last line without its newline: what a writer
	// that crashed mid-append leaves behind.
	tail int
}

// scan reads complete lines from r, checks each one against c and hands it to
// fn with the length of its line. It stops at the first broken entry,
// returning a *ChainError.
func scan(r io.Reader, c *chain, fn func(e Entry, size int)) (scanResult, error) {
	var res scanResult
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		raw, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			res.tail = len(raw)
			return res, nil
		}
		if err != nil {
			return res, err
		}
		e, err := decodeLine(raw)
		if err != nil {
			return res, c.malformed(err)
		}
		if err := c.exact(e, raw); err != nil {
			return res, err
		}
		if err := c.accept(e); err != nil {
			return res, err
		}
		fn(e, len(raw))
		res.consumed += int64(len(raw))
	}
}

// exact checks that the stored line is byte for byte the canonical encoding
// of e, and names the line if not.
func (c *chain) exact(e Entry, raw []byte) error {
	if isCanonical(e, raw, true) {
		return nil
	}
	return &ChainError{Seq: e.Seq, Line: c.line + 1, Reason: notCanonical}
}

// notCanonical explains a record that decodes to a valid entry but is not
// the bytes that entry encodes to.
const notCanonical = "the stored record is not the canonical encoding of its entry (duplicate or case-variant keys, " +
	"reordered keys, extra whitespace or escapes): it was edited, and what a reader of the raw record sees may differ from what was hashed"

// isCanonical reports whether stored is byte for byte the canonical encoding
// of e: with its hash and a newline when withHash is set (a file line), with
// the hash blank otherwise (the record the database stores). Decoding is
// lenient where encoding is not: duplicate keys (the last wins), keys in
// another case, another key order or whitespace all decode to an entry whose
// re-encoding hashes right, while jq or a person reading the stored bytes
// sees something else. Only the exact bytes are evidence.
func isCanonical(e Entry, stored []byte, withHash bool) bool {
	if !withHash {
		e.Hash = ""
	}
	b, err := canonical(e)
	if err != nil {
		return false
	}
	if withHash {
		b = append(b, '\n')
	}
	return bytes.Equal(b, stored)
}
