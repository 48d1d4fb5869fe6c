package runbooks

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MaxSize is the largest runbook accepted, in bytes. Runbooks are short
// documents; the bound keeps a wrong file (a log, a binary) from costing
// memory and time before it is refused.
const MaxSize = 1 << 20

// Load reads and parses the runbook at path. Every error it returns is of
// type Problems.
func Load(path string) (*Runbook, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Problems{{File: path, Msg: "cannot read the runbook: " + reason(err)}}
	}
	defer f.Close()
	// One byte past the limit is enough to tell "too large" apart from
	// "exactly at the limit" without reading the rest.
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, Problems{{File: path, Msg: "cannot read the runbook: " + reason(err)}}
	}
	return Parse(path, data)
}

// reason drops the "open PATH:" prefix of file errors: Problem already
// names the file.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse decodes and validates one runbook. filename is only used in
// problem positions. On failure the error is Problems listing everything
// found, each with the line and column it concerns, and the runbook is nil.
func Parse(filename string, data []byte) (*Runbook, error) {
	c := newCollector(filename)
	root := readYAML(c, data)
	if root == nil {
		return nil, c.result()
	}
	if at, ok := trainKey(root); ok {
		// A train file fails every runbook rule at once; one line that
		// names the right command helps more than a dozen unknown keys.
		c.addf(at, "this is a release train file (it has train:), not a runbook; check it with `runbook train validate %s` and start it with `runbook train deploy`", filename)
		return nil, c.result()
	}
	rb := new(Runbook)
	d := newDecoder(c)
	d.decodeRoot(root, rb)
	// After an aborted decode (alias bomb) the runbook is partial; checking
	// it would only add noise to the one problem that matters.
	if !d.aborted {
		resolveTemplates(c, d.locs, filename, rb)
		newValidator(c, d.locs, d.slotUses).runbook(rb)
	}
	if err := c.result(); err != nil {
		return nil, err
	}
	return rb, nil
}

// trainKey finds a top-level train: key beside no service: key, the mark
// of a release train file (internal/trains), and where it is.
func trainKey(root *yaml.Node) (pos, bool) {
	if root.Kind != yaml.MappingNode {
		return pos{}, false
	}
	var at pos
	found := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i]; k.Value {
		case "service":
			return pos{}, false
		case "train":
			at, found = pos{line: k.Line, col: k.Column}, true
		}
	}
	return at, found
}

const emptyMsg = "file is empty; a runbook needs at least api-version, service, owner, artifact and environments"

// blank reports whether data holds only whitespace and comments. yaml.v3
// calls a line holding only a tab a syntax error, which would be a
// confusing thing to say about an empty file.
func blank(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// readYAML turns data into the runbook's root node, or records why it
// cannot and returns nil.
func readYAML(c *collector, data []byte) *yaml.Node {
	if len(data) > MaxSize {
		c.addf(pos{}, "file is larger than 1 MiB; a runbook must be smaller")
		return nil
	}
	if !checkText(c, data) {
		return nil
	}
	if blank(data) {
		c.addf(pos{}, emptyMsg)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			c.addf(pos{}, emptyMsg)
		} else {
			syntaxProblem(c, data, err)
		}
		return nil
	}
	if emptyDocument(&doc) {
		c.addf(pos{}, emptyMsg)
		return nil
	}
	if !singleDocument(c, data, dec) {
		return nil
	}
	return doc.Content[0]
}

// singleDocument reads the rest of the stream. Empty documents (a trailing
// "---") are harmless; anything else would be silently ignored, so it is a
// problem.
func singleDocument(c *collector, data []byte, dec *yaml.Decoder) bool {
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		switch {
		case errors.Is(err, io.EOF):
			return true
		case err != nil:
			syntaxProblem(c, data, err)
			return false
		case !emptyDocument(&next):
			n := next.Content[0]
			c.addf(pos{n.Line, n.Column}, "a second YAML document starts here; a runbook is a single document, so remove the --- separator and everything after it, or move it to its own file")
			return false
		}
	}
}

// emptyDocument reports whether doc holds nothing, like a bare "---" or
// an explicit null.
func emptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	n := doc.Content[0]
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// checkText refuses input that is not UTF-8 text before the YAML parser
// sees it: the parser's own errors for binary data carry no position and
// read like YAML mistakes.
func checkText(c *collector, data []byte) bool {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == 0 || (r == utf8.RuneError && size == 1) {
			c.addf(pos{}, "file is not text (binary data at byte %d); runbooks are UTF-8 YAML", i)
			return false
		}
		if !yamlPrintable(r) {
			c.addf(pos{line, col}, "character %U is not allowed in YAML; delete it (invisible control characters often come from copy and paste)", r)
			return false
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return true
}

// yamlPrintable reports whether YAML 1.2 allows r in a stream (c-printable).
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7e:
		return true
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd:
		return true
	default:
		return r >= 0x10000 && r <= 0x10ffff
	}
}
