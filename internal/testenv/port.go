package testenv

import "net"

// StartAttempts is how often a harness tries to bring its server up. A port
// from FreePort is free when probed but another process (the test packages
// run in parallel) can take it before the server binds; the server then
// exits during start-up and a fresh port is tried.
const StartAttempts = 3

// FreePort asks the kernel for a TCP port that is free on 127.0.0.1 now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Retry calls try up to StartAttempts times until it succeeds and returns
// the last error. try must clean up after itself when it fails.
func Retry(try func() error) error {
	var err error
	for i := 0; i < StartAttempts; i++ {
		if err = try(); err == nil {
			return nil
		}
	}
	return err
}
