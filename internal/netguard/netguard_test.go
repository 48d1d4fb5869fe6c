package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/dns"
)

func TestCheckHostRefusesMetadataInEveryForm(t *testing.T) {
	for _, h := range []string{
		"169.254.169.254", "2852039166", "0xa9fea9fe", "0xA9FEA9FE", "0251.0376.0251.0376",
		"169.254.43518", "0xa9.0xfe.0xa9.0xfe", "169.254.1.1", "[fe80::1]", "fe80::1%eth0",
		"[::ffff:169.254.169.254]", "::ffff:a9fe:a9fe", "64:ff9b::a9fe:a9fe", "100.100.100.200",
		"[fd00:ec2::254]", "metadata.google.internal", "METADATA.GOOGLE.INTERNAL.", "metadata",
		"instance-data.ec2.internal", "168.63.129.16",
	} {
		if err := CheckHost(h); !errors.Is(err, ErrBlocked) {
			t.Errorf("CheckHost(%q) = %v, want ErrBlocked", h, err)
		}
	}
}

func TestCheckHostAllowsOrdinaryHosts(t *testing.T) {
	for _, h := range []string{
		"127.0.0.1", "localhost", "10.0.0.5", "::1", "[::1]", "example.com", "169.253.255.255",
		"169.255.0.1", "2130706433", "prometheus.internal", "0x7f000001", "08", "1e9",
	} {
		if err := CheckHost(h); err != nil {
			t.Errorf("CheckHost(%q) = %v, want nil", h, err)
		}
	}
}

func TestParseIPInetAtonForms(t *testing.T) {
	for in, want := range map[string]string{
		"2852039166": "169.254.169.254", "0xa9fea9fe": "169.254.169.254", "0251.0376.0251.0376": "169.254.169.254",
		"169.254.43518": "169.254.169.254", "169.16689662": "169.254.169.254", "127.1": "127.0.0.1",
	} {
		got, ok := ParseIP(in)
		if !ok || got != netip.MustParseAddr(want) {
			t.Errorf("ParseIP(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"256.1.1.1", "1.2.3.4.5", "4294967296", "0x", "1..2", "a.b.c.d", "0b101", "1_000"} {
		if got, ok := ParseIP(in); ok {
			t.Errorf("ParseIP(%q) = %v, want no address", in, got)
		}
	}
}

// TestClientRefusesAfterResolution: a name whose DNS answer is the metadata
// address is refused when dialling (nothing can pass by renaming it), while
// a name resolving to loopback reaches the server.
func TestClientRefusesAfterResolution(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	r := dns.Resolver(t, map[string]string{"app.runbook.test": "127.0.0.1", "rebind.runbook.test": "169.254.169.254"})
	c := Client(r, 5*time.Second)

	resp, err := c.Get(fmt.Sprintf("http://app.runbook.test:%d/", port))
	if err != nil {
		t.Fatalf("a name resolving to loopback: %v", err)
	}
	_ = resp.Body.Close()

	start := time.Now()
	_, err = c.Get(fmt.Sprintf("http://rebind.runbook.test:%d/latest/meta-data/", port))
	if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "169.254.169.254") {
		t.Fatalf("a name resolving to the metadata address: %v, want ErrBlocked naming it", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %s: it should come before any connect attempt", d)
	}
}

func TestClientRefusesAddressLiteralsAndRedirects(t *testing.T) {
	c := Client(nil, 5*time.Second)
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fe80::1]:80/", "http://[::ffff:169.254.169.254]/"} {
		if _, err := c.Get(u); !errors.Is(err, ErrBlocked) {
			t.Errorf("GET %s: %v, want ErrBlocked", u, err)
		}
	}
	redirect := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/latest/meta-data/iam/", http.StatusFound))
	t.Cleanup(redirect.Close)
	if _, err := c.Get(redirect.URL); !errors.Is(err, ErrBlocked) {
		t.Errorf("a redirect to the metadata address: %v, want ErrBlocked", err)
	}
}

func TestControlNeedsAnAddress(t *testing.T) {
	if err := Control("tcp4", "169.254.169.254:80", nil); !errors.Is(err, ErrBlocked) {
		t.Errorf("Control on the metadata address: %v", err)
	}
	if err := Control("tcp4", "127.0.0.1:80", nil); err != nil {
		t.Errorf("Control on loopback: %v", err)
	}
	d := Dialer(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := d.DialContext(ctx, "tcp", "2852039166:80"); err == nil {
		t.Error("dialling the decimal form of the metadata address succeeded")
	}
}
