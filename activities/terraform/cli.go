package terraform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"go.temporal.io/sdk/temporal"
)

// waitDelay is how long a cancelled command may take to stop after SIGINT
// before it is killed. OpenTofu uses it to finish the operations in flight,
// save the state and release the lock; killing it earlier risks a lost state.
const waitDelay = 30 * time.Second

const initStamp = "runbook-init" // inside .terraform: deleting .terraform forces init again

// runner runs OpenTofu commands in one working directory.
type runner struct {
	w       *workdir
	tf      *tfexec.Terraform
	stderr  bytes.Buffer // of the last command; tfexec has finished writing when a command returns
	secrets []string     // redacted from every error
}

// runner prepares tfexec for w. The environment is the worker's minus
// TF_VAR_* and TF_CLI_ARGS* (variables come only from the var file, flags only
// from here), with CHECKPOINT_DISABLE and an existing CLI configuration file;
// tfexec itself sets TF_IN_AUTOMATION and refuses to take it from us.
func (w *workdir) runner(secrets []string) (*runner, error) {
	tf, err := tfexec.NewTerraform(w.dir, w.bin)
	if err != nil {
		return nil, failed(fmt.Sprintf("%s: %v", w.name(), err), false)
	}
	env, err := w.env()
	if err != nil {
		return nil, failed(fmt.Sprintf("%s: %v", w.name(), err), true)
	}
	if err := tf.SetEnv(env); err != nil {
		return nil, failed(fmt.Sprintf("%s: %v", w.name(), err), false)
	}
	if err := tf.SetWaitDelay(waitDelay); err != nil {
		return nil, failed(fmt.Sprintf("%s: %v", w.name(), err), false)
	}
	r := &runner{w: w, tf: tf, secrets: secrets}
	tf.SetStderr(&r.stderr)
	return r, nil
}

func (w *workdir) env() (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	env = tfexec.CleanEnv(env)
	delete(env, "TF_DATA_DIR") // .terraform must stay in the working directory
	env["CHECKPOINT_DISABLE"] = "1"
	// An operator's existing CLI configuration (provider mirrors, plugin
	// cache) is kept; a missing one makes OpenTofu warn on every command.
	if cfg := env["TF_CLI_CONFIG_FILE"]; cfg != "" && isFile(cfg) {
		return env, nil
	}
	cfg := filepath.Join(w.dir, cliConfig)
	if !isFile(cfg) {
		if err := os.WriteFile(cfg, nil, 0o600); err != nil {
			return nil, err
		}
	}
	env["TF_CLI_CONFIG_FILE"] = cfg
	return env, nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// run runs one command with heartbeats; fn gets s as the stdout of a -json
// command. A failure comes back typed, named after s's phase.
func (r *runner) run(ctx context.Context, s *stream, fn func(stdout io.Writer) error) error {
	r.stderr.Reset()
	s.secrets = r.secrets
	stop := heartbeat(ctx, s, r.w.observe)
	err := fn(s)
	stop()
	r.tf.SetStdout(nil) // the *JSON methods leave our stream set for later commands
	if err != nil {
		return r.fail(ctx, s.p.Phase, err, s)
	}
	return nil
}

// init runs `init` when the configuration or the binary changed since the
// last successful one, then `validate`, so errors in the module surface as
// ErrInvalid before any plan.
func (r *runner) init(ctx context.Context, digest string) error {
	stamp := filepath.Join(r.w.dir, ".terraform", initStamp)
	want := digest + " " + r.w.bin + "\n"
	if b, err := os.ReadFile(stamp); err == nil && string(b) == want {
		return nil
	}
	if err := r.run(ctx, newStream("init", 0), func(io.Writer) error { return r.tf.Init(ctx, tfexec.Upgrade(false)) }); err != nil {
		return err
	}
	var v *tfjson.ValidateOutput
	validate := func(io.Writer) (err error) { v, err = r.tf.Validate(ctx); return err }
	if err := r.run(ctx, newStream("init", 0), validate); err != nil {
		return err
	}
	if !v.Valid {
		var diags []diagnostic
		for _, d := range v.Diagnostics {
			diags = append(diags, fromJSON(d))
		}
		return invalid(fmt.Sprintf("%s: the module is invalid: %s; fix the module and start a new release", r.w.name(), redact(describe(diags), r.secrets)))
	}
	if err := os.MkdirAll(filepath.Dir(stamp), 0o700); err != nil {
		return failed(fmt.Sprintf("%s: %v", r.w.name(), err), true)
	}
	return os.WriteFile(stamp, []byte(want), 0o600)
}

// fail turns a command's failure into a typed error that says what to do.
// Cancellation is passed through as the context's error so Temporal records
// a cancel; every message has the secrets redacted.
func (r *runner) fail(ctx context.Context, op string, err error, s *stream) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	stderr := r.stderr.String()
	diags := append(s.diagnostics(), parseStderr(stderr)...)
	text := describe(diags)
	if text == "" {
		text = firstLine(err.Error())
	}
	text = redact(text, r.secrets)
	name := fmt.Sprintf("%s %s", op, r.w.name())
	switch {
	case len(diags) == 0 && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: cannot run %s: %s; %s", name, r.w.bin, text, installHint), ErrNotFound, nil)
	case matches(diags, lockRE, false):
		return r.locked(name, lockID(diags, stderr))
	case matches(diags, staleRE, false):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s: the saved plan no longer matches the state, which changed since the plan was made (%s); plan again and review the new plan", name, text), ErrPlanStale, nil)
	case (op == "init" && !matches(diags, transientRE, true)) || matches(diags, invalidRE, false):
		return invalid(fmt.Sprintf("%s: the module or its variables are invalid: %s; fix the module or the runbook's vars and start a new release", name, text))
	case matches(diags, transientRE, true) || len(diags) == 0 && transientRE.MatchString(err.Error()):
		return failed(fmt.Sprintf("%s failed, apparently transiently: %s; retrying", name, text), true)
	}
	return failed(fmt.Sprintf("%s failed: %s; %s", name, text, nextStep(op)), false)
}

func (r *runner) locked(name, id string) error {
	unlock := ""
	if id != "" {
		unlock = fmt.Sprintf("; if no run is active, release it with `tofu force-unlock %s` in %s", id, r.w.dir)
	}
	return temporal.NewApplicationError(fmt.Sprintf(
		"%s: another run holds the state lock; retrying until it finishes%s", name, unlock), ErrLocked)
}

func nextStep(op string) string {
	switch op {
	case "apply", "destroy":
		return "the state may be partly changed: fix the cause, then plan again to see what is left"
	}
	return "fix the cause and run the step again"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
