package audit

import (
	"bufio"
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
		if err := c.accept(e); err != nil {
			return res, err
		}
		fn(e, len(raw))
		res.consumed += int64(len(raw))
	}
}
