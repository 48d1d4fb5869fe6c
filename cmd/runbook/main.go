// Command runbook runs software releases as durable Temporal workflows.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	stopTracing := startTracing(os.Args[1:])
	err := newRootCmd(os.Stdout, os.Stderr).Execute()
	stopTracing()
	if err == nil {
		return
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if exit.msg != "" {
			fmt.Fprintln(os.Stderr, exit.msg)
		}
		os.Exit(exit.code)
	}
	fmt.Fprintln(os.Stderr, "runbook:", err)
	os.Exit(1)
}

// exitError ends the program with a code and an optional one-line message,
// e.g. a rolled-back release.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
