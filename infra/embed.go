// Package infra ships the OpenTofu modules of runbook. The local module is embedded in
// the binary: it is the default an environment gets when its runbook names no infra
// module, and it needs nothing but OpenTofu (or Terraform) and the sample app binary.
// The aws module is an example to copy, not embedded.
package infra

import (
	"embed"
	"io/fs"
)

//go:embed local/*.tf local/scripts/*.sh
var files embed.FS

// Local returns the files of the infra/local module, rooted at the module directory.
// Copy them into a fresh working directory (os.CopyFS) before running OpenTofu there:
// the module keeps its pid and log files under that directory by default.
func Local() fs.FS {
	sub, err := fs.Sub(files, "local")
	if err != nil {
		// Unreachable: "local" is a valid path and the embed directive guarantees it.
		panic(err)
	}
	return sub
}
