// SPDX-License-Identifier: Apache-2.0

// Package netns builds throw-away network topologies in Linux network
// namespaces for skiff's demo, end-to-end tests and benchmarks: namespaces,
// veth links, bridges and addresses through iproute2, and processes run
// inside them. Everything a Lab creates carries its unique prefix and is
// removed by Close (killing the processes, deleting the namespaces, which
// takes their devices with them). Needs root.
//
//	Lab "sk12345a" --NS("a")--> netns sk12345a-a --Run/Start--> processes
//	               --Link(a, "ul0", b, "ul0")--> veth pair between namespaces
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Lab is a set of namespaces and the processes in them.
type Lab struct {
	Prefix string

	mu    sync.Mutex
	nss   []*NS
	procs []*Proc
}

var labSeq atomic.Uint32

// Prefix of every namespace a Lab creates; Clean removes leftovers.
const namePrefix = "sk"

// New returns an empty lab with a prefix unique to this process and call.
func New() (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("netns: network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("netns: iproute2 (ip) is not installed: %w", err)
	}
	return &Lab{Prefix: fmt.Sprintf("%s%d%c", namePrefix, os.Getpid(), 'a'+rune(labSeq.Add(1)-1)%26)}, nil
}

// NS is one network namespace of a lab.
type NS struct {
	lab  *Lab
	Name string // full namespace name
}

// NS creates namespace name (prefixed) with its loopback up.
func (l *Lab) NS(name string) (*NS, error) {
	ns := &NS{lab: l, Name: l.Prefix + "-" + name}
	if _, err := run("ip", "netns", "add", ns.Name); err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.nss = append(l.nss, ns)
	l.mu.Unlock()
	if _, err := ns.Run("ip", "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	return ns, nil
}

// Link creates a veth pair: device aDev in a and bDev in b, both up.
func (l *Lab) Link(a *NS, aDev string, b *NS, bDev string) error {
	if _, err := run("ip", "link", "add", aDev, "netns", a.Name, "type", "veth", "peer", "name", bDev, "netns", b.Name); err != nil {
		return err
	}
	if _, err := a.Run("ip", "link", "set", aDev, "up"); err != nil {
		return err
	}
	_, err := b.Run("ip", "link", "set", bDev, "up")
	return err
}

// Run runs a command inside the namespace and returns its combined output.
func (ns *NS) Run(name string, args ...string) ([]byte, error) {
	return run("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// MustRun is Run for setup steps: it panics on error with the output.
func (ns *NS) MustRun(name string, args ...string) []byte {
	out, err := ns.Run(name, args...)
	if err != nil {
		panic(err)
	}
	return out
}

// Addr adds address cidr to dev and brings dev up.
func (ns *NS) Addr(dev, cidr string) error {
	if _, err := ns.Run("ip", "addr", "add", cidr, "dev", dev); err != nil {
		return err
	}
	_, err := ns.Run("ip", "link", "set", dev, "up")
	return err
}

// Pids lists the processes running in the namespace.
func (ns *NS) Pids() []int {
	out, _ := run("ip", "netns", "pids", ns.Name)
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// Proc is a process started in a namespace.
type Proc struct {
	Cmd    *exec.Cmd
	Name   string
	out    *syncBuffer
	done   chan struct{}
	err    error
	killed atomic.Bool
}

// Start starts a command in the namespace; its stdout and stderr are kept
// (Output) and also copied to logTo if it is not nil.
func (ns *NS) Start(logTo *os.File, name string, args ...string) (*Proc, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
	p := &Proc{Cmd: cmd, Name: ns.Name + ": " + name + " " + strings.Join(args, " "), out: &syncBuffer{tee: logTo}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.Name, err)
	}
	ns.lab.mu.Lock()
	ns.lab.procs = append(ns.lab.procs, p)
	ns.lab.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Output is what the process wrote so far.
func (p *Proc) Output() string { return p.out.String() }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit, at most timeout, and returns its
// error (nil for exit status 0).
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s: still running after %v", p.Name, timeout)
	}
}

// Signal sends sig to the process group.
func (p *Proc) Signal(sig syscall.Signal) {
	if p.Cmd.Process != nil {
		syscall.Kill(-p.Cmd.Process.Pid, sig)
	}
}

// Stop sends SIGTERM and waits up to timeout, then SIGKILL.
func (p *Proc) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s: did not stop within %v of SIGTERM", p.Name, timeout)
	}
}

// Kill kills the process group at once (SIGKILL) and waits for it.
func (p *Proc) Kill() {
	p.killed.Store(true)
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Close kills every process the lab started and every other process still
// in its namespaces, then deletes the namespaces (and with them their
// devices). It is safe to call more than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	procs, nss := l.procs, l.nss
	l.procs, l.nss = nil, nil
	l.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.done:
		default:
			p.Signal(syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
	}
	var errs []error
	for i := len(nss) - 1; i >= 0; i-- {
		ns := nss[i]
		for _, pid := range ns.Pids() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if _, err := run("ip", "netns", "del", ns.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Clean deletes namespaces left behind by labs of processes that no longer
// run (a crashed test or an interrupted demo).
func Clean() {
	out, err := run("ip", "netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, namePrefix)
		if !ok {
			continue
		}
		digits := 0
		for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
			digits++
		}
		pid, err := strconv.Atoi(rest[:digits])
		if err != nil || digits+1 >= len(rest) || rest[digits+1] != '-' {
			continue
		}
		if syscall.Kill(pid, 0) == nil && pid != os.Getpid() {
			continue // its lab is alive
		}
		if pid == os.Getpid() {
			continue
		}
		ns := &NS{Name: name}
		for _, p := range ns.Pids() {
			syscall.Kill(p, syscall.SIGKILL)
		}
		run("ip", "netns", "del", name)
	}
}

func run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// syncBuffer collects a process's output; safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	b   bytes.Buffer
	tee *os.File
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tee != nil {
		s.tee.Write(p)
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
