package runbooks

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

// yaml.v3 reports syntax errors as "yaml: line N: message" and gives no
// column. These helpers turn its messages into located problems.

var (
	yamlLineRe   = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlAnchorRe = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// parserMessages are the errors yaml.v3's parser (as opposed to its
// scanner) raises. For these it prints a 0-based line number, so they are
// one line early; scanner errors are already 1-based.
var parserMessages = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found undefined tag handle",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found duplicate %TAG directive",
}

// syntaxHints add what to do next to the parser's terse messages, for the
// mistakes people make most.
var syntaxHints = map[string]string{
	"mapping values are not allowed in this context":  "a value containing \": \" must be quoted, or the indentation is off",
	"found a tab character that violates indentation": "indent with spaces, not tabs",
	"found character that cannot start any token":     "indent with spaces, not tabs, and quote values starting with @ or `",
	"did not find expected key":                       "check the indentation of this block",
	"did not find expected '-' indicator":             "list entries must all start with - at the same indentation",
	"found unexpected end of stream":                  "a quote or bracket is not closed",
	"could not find expected ':'":                     "a key needs a colon after it, or a long value needs quotes",
	"did not find expected ',' or ']'":                "a [ list ] is not closed",
	"did not find expected ',' or '}'":                "a { mapping } is not closed",
}

// syntaxProblem records a yaml.v3 parse error at the line it names.
func syntaxProblem(c *collector, data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	// A message without a line number means both of the parser's marks
	// were on its line 0, which is the first line of the file.
	at := pos{line: 1}
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		at.line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if isParserMessage(msg) {
			at.line++
		}
	} else if m := yamlAnchorRe.FindStringSubmatch(msg); m != nil {
		at = findAlias(data, m[1])
		msg = "*" + m[1] + " refers to an anchor &" + m[1] + " that is not defined before it"
	}
	if hint, ok := syntaxHints[msg]; ok {
		msg += "; " + hint
	}
	c.addf(at, "YAML syntax error: %s", msg)
}

func isParserMessage(msg string) bool {
	for _, m := range parserMessages {
		if msg == m {
			return true
		}
	}
	return false
}

// findAlias locates the first use of *name, which yaml.v3 does not.
func findAlias(data []byte, name string) pos {
	i := bytes.Index(data, []byte("*"+name))
	if i < 0 {
		return pos{}
	}
	line := 1 + bytes.Count(data[:i], []byte("\n"))
	col := 1 + len([]rune(string(data[bytes.LastIndexByte(data[:i], '\n')+1:i])))
	return pos{line, col}
}
