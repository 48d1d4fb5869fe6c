// Package awsconf loads the AWS configuration the AWS-backed providers share:
// credentials from the default chain, an optional region and an optional
// endpoint (moto in tests, a VPC endpoint in production).
package awsconf

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/runbookhq/runbook/internal/netguard"
)

// Load returns the configuration for region (default: the chain's) and
// endpoint (default: the service's own). An endpoint is a runbook option, so
// one on a link-local or metadata host is refused. The SDK's own client is
// kept: the credential chain itself must reach the instance metadata service.
func Load(region, endpoint string) (aws.Config, error) {
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil {
			return aws.Config{}, fmt.Errorf("endpoint %q is not a URL: %w", endpoint, err)
		}
		if err := netguard.CheckHost(u.Hostname()); err != nil {
			return aws.Config{}, fmt.Errorf("endpoint: %w", err)
		}
	}
	var load []func(*config.LoadOptions) error
	if region != "" {
		load = append(load, config.WithRegion(region))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return aws.Config{}, err
	}
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
	}
	return cfg, nil
}
