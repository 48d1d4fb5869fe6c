// Package httpserver is the one place that says how long an HTTP server of
// runbook waits for a client: every server the product starts (the worker's
// endpoints, the edge proxy and its admin API, the sample app) is built by
// New from one of the two sets of limits below, so a slow or hostile client
// cannot hold a connection, a goroutine and its buffers for ever.
package httpserver

import (
	"net/http"
	"time"
)

// Limits bound what one connection may take from a server.
type Limits struct {
	// ReadHeader bounds reading the request line and headers: it is what
	// cuts a slow-loris client that sends its headers a byte at a time.
	ReadHeader time.Duration
	// Read bounds reading the whole request, body included.
	Read time.Duration
	// Write bounds writing the response, from the end of the request's
	// headers to the last byte.
	Write time.Duration
	// Idle bounds how long a kept-alive connection waits for its next request.
	Idle time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
}

// maxHeaderBytes is 64 KiB for every server, in line with common proxies
// (Envoy's default is 60 KiB): room for large cookies and tracing headers,
// where Go's default of 1 MiB lets each connection pin a megabyte.
const maxHeaderBytes = 64 << 10

// Endpoint is for the product's own endpoints: the worker's /healthz,
// /readyz, /metrics and Slack interactions, the edge admin API and the
// sample app. Their requests are small (a Slack payload, a JSON weight) and
// their answers quick: 10 seconds to send a whole request is generous, and
// it is what stops a slow upload holding the Slack endpoint before the
// signature can be checked. Slack wants an answer within 3 seconds, /readyz gives Temporal 3 seconds, and the
// slowest, /metrics, gives its Temporal queries 30 seconds, so a minute of
// writing cuts nothing legitimate.
var Endpoint = Limits{
	ReadHeader:     5 * time.Second,
	Read:           10 * time.Second,
	Write:          time.Minute,
	Idle:           2 * time.Minute,
	MaxHeaderBytes: maxHeaderBytes,
}

// Proxy is for the edge proxy, which carries users' traffic to the
// application: it must not cut a normal response, only a client that
// occupies a connection far longer than any request does. Headers still get
// 10 seconds (slow mobile links), but a request body may take 5 minutes
// (uploads) and a response 10 minutes (large downloads, slow readers). The
// upstream side is bounded separately: the proxy's transport limits dialing
// and the wait for the backend's response headers. Streams that must stay
// open longer (server-sent events, long polls; a WebSocket keeps the 5
// minutes of reading) are cut and must reconnect, as they must behind many
// load balancers.
var Proxy = Limits{
	ReadHeader:     10 * time.Second,
	Read:           5 * time.Minute,
	Write:          10 * time.Minute,
	Idle:           2 * time.Minute,
	MaxHeaderBytes: maxHeaderBytes,
}

// New returns a server for h with the limits l; the caller sets Addr or
// passes a listener to Serve.
func New(h http.Handler, l Limits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}
