package migrate

import (
	"regexp"
	"strings"
)

// token kinds.
const (
	tWord   = iota // keyword or unquoted identifier (Text upper-cased)
	tIdent         // quoted identifier ("x" or `x`), never a keyword
	tString        // string literal, dollar-quoted body included
	tNumber        // numeric literal
	tPunct         // any other character: ( ) , . = and friends
)

type token struct {
	Kind int
	Text string
}

// statement is one SQL statement of a migration file.
type statement struct {
	Line       int    // 1-based line of its first token
	Start, End int    // byte offsets: first token, and the terminating ';' (or EOF)
	Text       string // as written, comments included, without the ';'
	Tokens     []token
}

// directive is a "-- runbook: WORD" line.
type directive struct {
	Line int
	Word string // lower-cased
}

var directiveRe = regexp.MustCompile(`(?i)^--\s*runbook\s*:\s*(\S*)\s*$`)

// split cuts SQL into statements at semicolons outside string literals,
// quoted identifiers, comments and dollar-quoted bodies, so a function body
// or a literal with ';' stays one statement. It also returns the directive
// comments, which must stand alone on their line.
func split(sql string) ([]statement, []directive) {
	l := lexer{src: sql, line: 1}
	var stmts []statement
	var dirs []directive
	cur := statement{Start: -1}
	flush := func(end int) {
		if cur.Start >= 0 {
			cur.End = end
			cur.Text = strings.TrimSpace(sql[cur.Start:end])
			stmts = append(stmts, cur)
		}
		cur = statement{Start: -1}
	}
	for {
		start, line, tok, comment, ok := l.next()
		if !ok {
			flush(len(sql))
			return stmts, dirs
		}
		if comment != "" {
			if lineStart(sql, start) {
				if m := directiveRe.FindStringSubmatch(comment); m != nil {
					dirs = append(dirs, directive{Line: line, Word: strings.ToLower(m[1])})
				}
			}
			continue
		}
		if tok.Kind == tPunct && tok.Text == ";" {
			flush(start)
			continue
		}
		if cur.Start < 0 {
			cur.Start, cur.Line = start, line
		}
		cur.Tokens = append(cur.Tokens, tok)
	}
}

// lineStart reports whether only blanks precede offset i on its line.
func lineStart(s string, i int) bool {
	j := strings.LastIndexByte(s[:i], '\n')
	return strings.TrimSpace(s[j+1:i]) == ""
}

// lexer walks SQL one token or comment at a time, counting lines.
type lexer struct {
	src  string
	pos  int
	line int
}

// next returns the next token, or the text of the next comment, with its
// start offset and line; ok is false at the end.
func (l *lexer) next() (start, line int, tok token, comment string, ok bool) {
	l.skipSpace()
	if l.pos >= len(l.src) {
		return 0, 0, token{}, "", false
	}
	start, line = l.pos, l.line
	s, c := l.src[l.pos:], l.src[l.pos]
	switch {
	case strings.HasPrefix(s, "--"):
		end := strings.IndexByte(s, '\n')
		if end < 0 {
			end = len(s)
		}
		l.pos += end
		return start, line, token{}, strings.TrimRight(s[:end], "\r"), true
	case strings.HasPrefix(s, "/*"):
		l.blockComment()
		return start, line, token{}, l.src[start:l.pos], true
	case c == '\'':
		escapes := start > 0 && (l.src[start-1] == 'E' || l.src[start-1] == 'e') && (start < 2 || !isWord(l.src[start-2]))
		l.quoted('\'', escapes)
		return start, line, token{Kind: tString}, "", true
	case c == '"' || c == '`':
		l.quoted(c, false)
		return start, line, token{Kind: tIdent, Text: l.src[start+1 : max(start+1, l.pos-1)]}, "", true
	case c == '$':
		if tag, ok := dollarTag(s); ok {
			l.dollar(tag)
			return start, line, token{Kind: tString}, "", true
		}
	case c >= '0' && c <= '9':
		for l.pos < len(l.src) && (isWord(l.src[l.pos]) || l.src[l.pos] == '.') {
			l.pos++
		}
		return start, line, token{Kind: tNumber, Text: l.src[start:l.pos]}, "", true
	case isWord(c):
		for l.pos < len(l.src) && (isWord(l.src[l.pos]) || l.src[l.pos] == '$') {
			l.pos++
		}
		// E'...' is one string token: leave the quote to the next call,
		// which sees the E before it.
		return start, line, token{Kind: tWord, Text: strings.ToUpper(l.src[start:l.pos])}, "", true
	}
	l.pos++
	return start, line, token{Kind: tPunct, Text: string(c)}, "", true
}

func (l *lexer) advance(n int) {
	end := min(l.pos+n, len(l.src))
	l.line += strings.Count(l.src[l.pos:end], "\n")
	l.pos = end
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case '\n':
			l.line++
		case ' ', '\t', '\r', '\f', '\v':
		default:
			return
		}
		l.pos++
	}
}

// blockComment skips a /* */ comment; Postgres nests them.
func (l *lexer) blockComment() {
	depth := 0
	for l.pos < len(l.src) {
		switch {
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			depth++
			l.advance(2)
		case strings.HasPrefix(l.src[l.pos:], "*/"):
			depth--
			l.advance(2)
			if depth == 0 {
				return
			}
		default:
			l.advance(1)
		}
	}
}

// quoted skips a literal or identifier quoted with q, where a doubled q is
// the quote itself and, in E'...' strings, a backslash escapes the next byte.
func (l *lexer) quoted(q byte, backslash bool) {
	l.advance(1)
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case backslash && c == '\\':
			l.advance(2)
		case c == q && l.pos+1 < len(l.src) && l.src[l.pos+1] == q:
			l.advance(2)
		case c == q:
			l.advance(1)
			return
		default:
			l.advance(1)
		}
	}
}

// dollar skips a $tag$ ... $tag$ body.
func (l *lexer) dollar(tag string) {
	l.advance(len(tag))
	end := strings.Index(l.src[l.pos:], tag)
	if end < 0 {
		l.advance(len(l.src))
		return
	}
	l.advance(end + len(tag))
}

// dollarTag returns the opening tag ("$$" or "$name$") at the start of s;
// "$1" is a parameter, not a tag.
func dollarTag(s string) (string, bool) {
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '$':
			return s[:i+1], true
		case c >= '0' && c <= '9' && i == 1, !isWord(c):
			return "", false
		}
	}
	return "", false
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// oneLine shortens a statement for a message: blanks collapsed, at most n
// bytes (cut at a rune boundary).
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
