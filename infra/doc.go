// Package infra ships the OpenTofu modules of runbook: local (a slot of the sample app
// on this machine, what `runbook demo` and the examples provision; it needs nothing but
// OpenTofu or Terraform and the sample app binary) and aws (an example to copy). The
// package holds only their tests, which run the modules with the real binaries.
package infra
