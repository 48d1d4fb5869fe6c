package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Dialer returns a dialer that refuses Blocked addresses after resolving
// names with r (nil: the default resolver).
func Dialer(r *net.Resolver) *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: r, Control: Control}
}

// Transport returns a clone of http.DefaultTransport that dials through
// Dialer(r). Requests through a proxy are checked by host only (the proxy
// resolves the name), so CheckRedirect and callers check hosts too.
func Transport(r *net.Resolver) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = Dialer(r).DialContext
	return t
}

// Client returns an HTTP client on Transport(r) that also refuses redirects
// to a blocked host. timeout 0 means none (callers bound each request).
func Client(r *net.Resolver, timeout time.Duration) *http.Client {
	return &http.Client{Transport: Transport(r), CheckRedirect: CheckRedirect, Timeout: timeout}
}

// CheckRedirect follows at most 10 redirects, as net/http does, and none
// to a blocked host.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if err := CheckHost(req.URL.Hostname()); err != nil {
		return fmt.Errorf("redirect refused: %w", err)
	}
	return nil
}
