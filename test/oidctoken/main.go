// Command oidctoken is the end-to-end tests' RUNBOOK_OIDC_TOKEN_COMMAND: it
// asks a test issuer's mint endpoint (internal/testenv/oidcissuer MintURL, the one
// argument) for an ID token for the nonce the runbook CLI put in
// RUNBOOK_OIDC_NONCE and prints it, as a person's IdP helper would. Go, not
// curl, so the tests need nothing the machine may lack.
package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Getenv("RUNBOOK_OIDC_NONCE")); err != nil {
		fmt.Fprintln(os.Stderr, "oidctoken:", err)
		os.Exit(1)
	}
}

func run(args []string, nonce string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: oidctoken MINT-URL (with RUNBOOK_OIDC_NONCE set)")
	}
	if nonce == "" {
		return fmt.Errorf("RUNBOOK_OIDC_NONCE is not set: the runbook CLI sets it for the statement to sign")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(args[0] + "?nonce=" + url.QueryEscape(nonce))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", args[0], resp.Status, body)
	}
	_, err = os.Stdout.Write(body)
	return err
}
