package httpcheck

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/jsonpath"
	"github.com/runbookhq/runbook/internal/scrub"
	"github.com/runbookhq/runbook/runbooks"
)

// How a journey reads answers and keeps their values to itself.

// minMasked is the length from which an extracted value is masked in
// messages; shorter ones (an order number 7) would mask unrelated text and
// cannot be a credential.
const minMasked = 4

// maxDetail bounds a request's detail in the result.
const maxDetail = 300

func usesJourney(s string) bool { return strings.Contains(s, "${"+runbooks.VarJourneyPrefix) }

// expand replaces the journey values extracted so far.
func (j *journey) expand(s string) string { return runbooks.Expand(s, j.vals) }

// placeheld is s with each journey value replaced by a placeholder, to
// read the host the runbook wrote.
func placeheld(s string) string {
	for usesJourney(s) {
		i := strings.Index(s, "${"+runbooks.VarJourneyPrefix)
		k := strings.IndexByte(s[i:], '}')
		if k < 0 {
			break
		}
		s = s[:i] + "1" + s[i+k+1:]
	}
	return s
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// expect checks the answer's status, body and JSON values. Messages name
// what the runbook wrote, never what an extracted value turned it into.
func (j *journey) expect(in HTTPCheckInput, r JourneyRequest, status int, body []byte) error {
	if status != in.ExpectStatus {
		return temporal.NewApplicationError(fmt.Sprintf("got %d, want %d", status, in.ExpectStatus), ErrTypeFailed)
	}
	if in.ExpectBody != "" && !bytes.Contains(body, []byte(in.ExpectBody)) {
		return temporal.NewApplicationError(fmt.Sprintf("body does not contain %q", r.ExpectBody), ErrTypeFailed)
	}
	if len(r.ExpectJSON) == 0 {
		return nil
	}
	doc, err := decodeJSON(body)
	if err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(r.ExpectJSON)) {
		got, err := selectOne(doc, p)
		if err != nil {
			return temporal.NewApplicationError(fmt.Sprintf("expect-json %v", err), ErrTypeFailed)
		}
		if want := j.expand(r.ExpectJSON[p]); got != want {
			return temporal.NewApplicationError(fmt.Sprintf("%s is %s, want %q", p, shown(got), r.ExpectJSON[p]), ErrTypeFailed)
		}
	}
	return nil
}

// shown is a value of an answer as a message may show it: short, quoted,
// credentials masked (the redaction masks extracted values after).
func shown(v string) string {
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return fmt.Sprintf("%q", scrub.Text(v))
}

// extract reads the values r names from its answer. A value missing from
// the answer fails the attempt: the next one may find it.
func (j *journey) extract(r JourneyRequest, header http.Header, body []byte) error {
	var doc any
	for _, name := range slices.Sorted(maps.Keys(r.Extract)) {
		src := r.Extract[name]
		var v string
		if h, ok := strings.CutPrefix(src, runbooks.HeaderPrefix); ok {
			if v = header.Get(h); v == "" {
				return temporal.NewApplicationError(fmt.Sprintf("extract %s: the answer has no header %s", name, h), ErrTypeFailed)
			}
		} else {
			if doc == nil {
				var err error
				if doc, err = decodeJSON(body); err != nil {
					return temporal.NewApplicationError(fmt.Sprintf("extract %s: the answer is not JSON", name), ErrTypeFailed)
				}
			}
			var err error
			if v, err = selectOne(doc, src); err != nil {
				return temporal.NewApplicationError(fmt.Sprintf("extract %s: %v", name, err), ErrTypeFailed)
			}
			if v == "null" {
				return temporal.NewApplicationError(fmt.Sprintf("extract %s: %s is null", name, src), ErrTypeFailed)
			}
		}
		j.vals[runbooks.VarJourneyPrefix+name] = v
	}
	return nil
}

// decodeJSON reads an answer as JSON, numbers kept as written.
func decodeJSON(body []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, temporal.NewApplicationError("the answer is not JSON", ErrTypeFailed)
	}
	return doc, nil
}

// selectOne reads the one value at path as text: a string as is, a number
// as written, true, false, null, an object or array as compact JSON.
func selectOne(doc any, path string) (string, error) {
	p, err := jsonpath.Parse(path)
	if err != nil {
		return "", invalid(err.Error())
	}
	vals, err := p.Select(doc)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if len(vals) != 1 {
		return "", invalid(fmt.Sprintf("%s selects %d values; name one", path, len(vals)))
	}
	switch v := vals[0].(type) {
	case string:
		return v, nil
	case nil:
		return "null", nil
	default:
		b, _ := json.Marshal(v)
		return string(b), nil
	}
}

// redact is msg as the result and history may keep it: the URL as the
// runbook wrote it, each extracted value replaced by its ${journey.NAME}.
// What comes from an answer itself is scrubbed where it enters a message
// (shown); the rest is the runbook's own text and the journey's words.
func (j *journey) redact(msg string, r JourneyRequest) string {
	if u, err := url.Parse(j.expand(r.URL)); err == nil {
		msg = strings.ReplaceAll(msg, u.Redacted(), r.URL)
	}
	names := slices.SortedFunc(maps.Keys(j.vals), func(a, b string) int {
		return cmp.Or(cmp.Compare(len(j.vals[b]), len(j.vals[a])), cmp.Compare(a, b))
	})
	for _, name := range names {
		if v := j.vals[name]; len(v) >= minMasked {
			msg = strings.ReplaceAll(msg, v, "${"+name+"}")
		}
	}
	if len(msg) > maxDetail {
		msg = msg[:maxDetail] + "..."
	}
	return msg
}
