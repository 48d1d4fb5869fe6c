package workflows

import (
	"strings"
	"unicode/utf8"
)

// frameEnd closes every current-details text. Temporal UI 2.42.1 sizes the
// markdown frame to its body's scrollHeight + 2 px, which leaves out the
// top margin of the first paragraph (16 px, it collapses through the body):
// the last 14 px of the text are cut, most of a line, whatever its length.
// A closing line holding only a no-break space takes that cut, so the real
// last line shows whole without scrolling inside the frame. The character
// itself: the UI's renderer prints the entity &nbsp; as typed.
const frameEnd = "\n\n\u00a0\n"

// longWord is the length from which shortPaths shortens a path: longer
// words cannot wrap and widen the frame's table past its ~640 px.
const longWord = 32

// shortPaths shortens each word of s that is a long path or URL to its
// last elements, "…/001/artifact.bin", so a table cell wraps inside the
// Web UI's details frame instead of scrolling sideways. A runbook command
// in s and everything after it stays as typed, for a person to copy.
func shortPaths(s string) string {
	end := len(s)
	if loc := commandRE.FindStringIndex(s); loc != nil {
		end = loc[0]
	}
	words := strings.Split(s[:end], " ")
	for i, w := range words {
		words[i] = shortPath(w)
	}
	return strings.Join(words, " ") + s[end:]
}

// shortPath keeps the longest tail of w that starts at a slash and fits in
// longWord characters, or w when it is short or no path.
func shortPath(w string) string {
	if utf8.RuneCountInString(w) <= longWord || !strings.Contains(w, "/") {
		return w
	}
	tail := ""
	for i := len(w) - 1; i > 0; i-- {
		if w[i] != '/' {
			continue
		}
		if utf8.RuneCountInString(w[i:])+1 > longWord {
			break
		}
		tail = w[i:]
	}
	if tail == "" {
		return w
	}
	return "…" + tail
}
