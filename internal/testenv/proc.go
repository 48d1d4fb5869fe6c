// Package testenv holds what the tests run against: real servers started
// from their binaries (pg, prom, haproxyd, moto), in-process fakes of
// services the project talks to (slackfake, oidcissuer, ociregistry, dns),
// and helpers that attack or sign (slowclient, cosignkeys), one subpackage
// each. This package itself is the process starter they share: find the
// binary, start it on 127.0.0.1 so it dies with the test binary, wait
// until it is ready by polling with a deadline, stop it by its pid.
package testenv

import (
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// killAfter is how long Stop waits after SIGTERM before SIGKILL.
const killAfter = 10 * time.Second

// Proc is a started process.
type Proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts cmd with Pdeathsig set, so no server outlives a test binary
// that dies, and waits for it in the background.
func Start(cmd *exec.Cmd) (*Proc, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	p := &Proc{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// Exited is closed once the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop terminates the process by its pid (SIGTERM, then SIGKILL after 10 s)
// and waits for it. Calling it twice is fine.
func (p *Proc) Stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(killAfter):
	}
	if err := p.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("killing %s pid %d: %w", p.cmd.Path, p.cmd.Process.Pid, err)
	}
	<-p.exited
	return nil
}
