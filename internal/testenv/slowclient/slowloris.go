// Package slowclient attacks a running HTTP server the way a slow or
// hostile client would, so each server's tests check its limits for real.
package slowclient

import (
	"io"
	"net"
	"testing"
	"time"
)

// SlowLoris connects to addr, sends the start of a request and then one
// header byte per second, never finishing the headers. It returns how long
// the server took to drop the connection and fails t if it still holds it
// after within (the server's header timeout plus some slack).
func SlowLoris(t testing.TB, addr string, within time.Duration) time.Duration {
	t.Helper()
	return trickle(t, addr, "GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: ", within)
}

// SlowBody sends complete headers of a POST to path announcing a 1 MiB
// body, then the body one byte per second. It returns how long the server
// took to drop the connection (or answer and close it) and fails t if it
// still holds it after within (the server's read timeout plus some slack).
func SlowBody(t testing.TB, addr, path string, within time.Duration) time.Duration {
	t.Helper()
	head := "POST " + path + " HTTP/1.1\r\nHost: slow\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1048576\r\n\r\n"
	return trickle(t, addr, head, within)
}

// trickle sends start, then one byte a second until the server ends the
// connection or within passes.
func trickle(t testing.TB, addr, start string, within time.Duration) time.Duration {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("slow-loris: dial %s: %v", addr, err)
	}
	defer conn.Close()
	began := time.Now()
	if _, err := io.WriteString(conn, start); err != nil {
		t.Fatalf("slow-loris: %v", err)
	}
	// The read ends only when the server closes the connection: an
	// unfinished request gets no answer, or an error answer and a close.
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(closed)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		select {
		case <-closed:
			return time.Since(began)
		case <-deadline.C:
			t.Fatalf("slow-loris: %s still holds a connection sending one byte per second after %v", addr, within)
		case <-tick.C:
			if _, err := conn.Write([]byte("a")); err != nil {
				return time.Since(began)
			}
		}
	}
}
