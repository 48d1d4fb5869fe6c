package runbooks

import (
	"maps"
	"slices"
)

// JourneyStep runs several HTTP requests in order, as a user would: a value
// extracted from one answer (a token, an order ID) is used by the requests
// after it as ${journey.NAME}. The whole journey is one attempt; it is
// repeated every interval until every request passes or the deadline is hit.
type JourneyStep struct {
	Requests []JourneyRequest `yaml:"requests" json:"requests" jsonschema:"required,minItems=1,description=The requests\\, sent in this order; each must pass before the next is sent."`
	Timeout  Duration         `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema:"description=Per request (default 10s)."`
	Interval Duration         `yaml:"interval,omitempty" json:"interval,omitempty" jsonschema:"description=Between attempts of the whole journey (default 2s)."`
	Deadline Duration         `yaml:"deadline,omitempty" json:"deadline,omitempty" jsonschema:"description=Give up after this long (default 2m)."`
}

// JourneyRequest is one request of a journey with its expectations and
// the values it hands to the requests after it.
type JourneyRequest struct {
	Name         string            `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z][a-z0-9-]{0\\,62}$,description=Names the request in status and failures."`
	Method       string            `yaml:"method,omitempty" json:"method,omitempty" jsonschema:"enum=GET,enum=HEAD,enum=POST,enum=PUT,enum=PATCH,enum=DELETE,description=Default GET. Every request carries an Idempotency-Key header unique to the release step and request."`
	URL          string            `yaml:"url" json:"url" jsonschema:"required,description=http:// or https:// URL; the release's variables and ${journey.NAME} of earlier requests are replaced."`
	Headers      map[string]string `yaml:"headers,omitempty" json:"headers,omitempty" jsonschema:"description=Header values written env:NAME are read from the worker's environment; other values may use ${journey.NAME}."`
	Body         string            `yaml:"body,omitempty" json:"body,omitempty"`
	ExpectStatus int               `yaml:"expect-status,omitempty" json:"expect-status,omitempty" jsonschema:"minimum=100,maximum=599,description=Default 200."`
	ExpectBody   string            `yaml:"expect-body,omitempty" json:"expect-body,omitempty" jsonschema:"description=Substring the response body must contain."`
	// ExpectJSON maps a JSON path of the answer to the value it must have,
	// compared as text (a string as is, a number as written, true, false, null).
	ExpectJSON map[string]string `yaml:"expect-json,omitempty" json:"expect-json,omitempty" jsonschema:"description=JSON path of the answer ($.a.b) to the value it must have\\, compared as text."`
	// Extract names the values later requests use as ${journey.NAME}: a
	// JSON path of the answer's body, or header:Name for a response header.
	Extract map[string]string `yaml:"extract,omitempty" json:"extract,omitempty" jsonschema:"description=NAME to a JSON path of the answer ($.token) or header:Name; later requests use it as ${journey.NAME}."`
}

// VarJourneyPrefix starts ${journey.NAME}: a value an earlier request of
// the same journey extracted. It is known only inside a journey's requests,
// and only the activity replaces it, so the value (often a token) never
// reaches workflow history.
const VarJourneyPrefix = "journey."

// HeaderPrefix starts an extraction from a response header (header:Location).
const HeaderPrefix = "header:"

// JourneyTexts are the texts of r that may use ${journey.NAME}, with the
// field each is at (relative to the request), in a stable order.
func (r JourneyRequest) JourneyTexts() [][2]string {
	out := [][2]string{{"url", r.URL}, {"body", r.Body}, {"expect-body", r.ExpectBody}}
	for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
		out = append(out, [2]string{join("headers", k), r.Headers[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(r.ExpectJSON)) {
		out = append(out, [2]string{join("expect-json", k), r.ExpectJSON[k]})
	}
	return out
}
