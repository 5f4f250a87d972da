// SPDX-License-Identifier: Apache-2.0

//go:build linux

package testpmd

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ErrExited is wrapped by the errors of a Proc whose testpmd has exited.
var ErrExited = errors.New("testpmd exited")

// Binary is the name of the testpmd executable looked up in PATH.
const Binary = "dpdk-testpmd"

// Path returns the path of dpdk-testpmd, or "" if it is not installed.
func Path() string {
	p, err := exec.LookPath(Binary)
	if err != nil {
		return ""
	}
	return p
}

// Available reports whether dpdk-testpmd (and stdbuf, which Start runs it
// under) are installed.
func Available() bool {
	_, err := exec.LookPath("stdbuf")
	return Path() != "" && err == nil
}

// Need skips a test when dpdk-testpmd is not installed, unless CI is set:
// CI installs it (.ci/run), so there a missing binary fails the test. It is
// nstest.NeedRoot's rule for a binary instead of root.
func Need(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("needs %s and stdbuf; CI installs them (apt-get install dpdk-dev librte-net-memif23 librte-mempool-ring23)", Binary)
	}
	t.Skipf("needs %s (apt-get install dpdk-dev librte-net-memif23 librte-mempool-ring23)", Binary)
}

// Options configure one testpmd instance with one memif port (port 0).
type Options struct {
	Name string // label in test logs; "" = the role

	// memif device (--vdev=net_memif0,...).
	Role     string // testpmd's role: "server" (default) or "client"
	Socket   string // control socket: a path, or a name when Abstract; "" = a unique abstract name
	Abstract bool   // Socket is an abstract name (no file); false adds socket-abstract=no
	ID       uint32 // interface id
	Secret   string // secret= (at most 24 bytes)
	Log2Ring int    // rsize=: log2 of the ring size, 1-14; 0 = driver default (10)
	BufSize  int    // bsize=: buffer size; 0 = driver default (2048)
	ZeroCopy bool   // zero-copy=yes (client only); adds EAL --single-file-segments
	MAC      string // mac= of testpmd's port; "" = random

	// Forwarding. macswap swaps each frame's source and destination MAC
	// and sends it back; io sends it back unchanged; rxonly counts and
	// frees; txonly only sends (frames from the port's MAC to EthPeer, of
	// TxPkts bytes) and never reads, so a peer sending to it stalls once
	// the ring is full.
	Forward       string // --forward-mode; "" = io
	NoStart       bool   // Start does not start forwarding; call StartForwarding
	TxFirst       bool   // start with "start tx_first": send TxFirstBursts bursts first; Start waits for the link (for a server: use NoStart unless the peer connects meanwhile)
	TxFirstBursts int    // bursts sent by tx_first; 0 = 1
	Burst         int    // --burst: frames per burst; 0 = testpmd default (32)
	TxPkts        []int  // --txpkts: txonly frame length (several values: segment lengths)
	EthPeer       string // --eth-peer=0,MAC: txonly's destination MAC; "" = 02:00:00:00:00:00

	// Resources. Lcores is EAL's --lcores: lcore 0 is the main lcore (the
	// command prompt, mostly asleep), lcore 1 forwards and busy-polls a
	// whole CPU. The default maps a server's lcores 0 and 1 to the first
	// two CPUs this process may run on (on a 2-CPU machine: -l 0-1) and a
	// client's the other way round (--lcores=0@1,1@0), so a testpmd server
	// and a testpmd client poll on different CPUs. With one CPU both
	// lcores share it.
	Lcores string
	MemMB  int // -m: no-huge memory in MB; 0 = 64 (RSS about 160 MB as root, 60 MB otherwise)
	Mbufs  int // --total-num-mbufs; 0 = 8192

	EAL   []string // more EAL arguments, e.g. --log-level=pmd.net.memif:debug
	Extra []string // more testpmd arguments (after --)

	StartTimeout time.Duration // up to the first prompt; 0 = 30s
	LinkTimeout  time.Duration // link up before tx_first; 0 = 10s
	CmdTimeout   time.Duration // one command's reply; 0 = 10s
}

// Proc is a running testpmd.
type Proc struct {
	o       Options
	name    string
	prefix  string // --file-prefix
	runDir  string // RUNTIME_DIRECTORY: EAL puts dpdk/<prefix>/ in it
	mac     net.HardwareAddr
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	exited  chan struct{} // closed once the process is gone and its output read
	waitErr error         // the exit status, valid after exited; never asserted on (servers can segfault at exit)

	cmdMu   sync.Mutex // one command at a time
	broken  error      // set when a reply did not come: the prompt protocol is out of step
	started bool       // forwarding started

	outMu  sync.Mutex
	log    bytes.Buffer // stdout and stderr as they arrive
	split  promptSplitter
	segs   []string      // replies not yet taken
	notify chan struct{} // a reply arrived (capacity 1)

	stopOnce sync.Once
	final    Stats
	stopErr  error
}

func (o *Options) fill() error {
	switch o.Role {
	case "":
		o.Role = "server"
	case "server", "client":
	default:
		return fmt.Errorf("role %q: want server or client", o.Role)
	}
	if o.Socket == "" {
		o.Socket, o.Abstract = "skiff-testpmd-"+randHex(6), true
	}
	for name, v := range map[string]string{"socket": o.Socket, "secret": o.Secret, "mac": o.MAC, "forward": o.Forward, "eth-peer": o.EthPeer, "lcores": o.Lcores} {
		bad := " \t\r\n"
		if name != "lcores" {
			bad += "," // the devargs separator
		}
		if strings.ContainsAny(v, bad) {
			return fmt.Errorf("%s %q: no commas or spaces", name, v)
		}
	}
	if len(o.Socket) > 107 {
		return fmt.Errorf("socket %q: longer than 107 bytes", o.Socket)
	}
	if len(o.Secret) > 24 {
		return fmt.Errorf("secret: longer than 24 bytes")
	}
	if o.Log2Ring < 0 || o.Log2Ring > 14 {
		return fmt.Errorf("Log2Ring %d: want 1-14", o.Log2Ring)
	}
	if o.ZeroCopy && o.Role != "client" {
		return errors.New("zero-copy is for a client only")
	}
	if o.Name == "" {
		o.Name = o.Role
	}
	if o.Forward == "" {
		o.Forward = "io"
	}
	if o.Lcores == "" {
		o.Lcores = defaultLcores(o.Role)
	}
	if o.MemMB == 0 {
		o.MemMB = 64
	}
	if o.Mbufs == 0 {
		o.Mbufs = 8192
	}
	if o.TxFirstBursts == 0 {
		o.TxFirstBursts = 1
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.LinkTimeout == 0 {
		o.LinkTimeout = 10 * time.Second
	}
	if o.CmdTimeout == 0 {
		o.CmdTimeout = 10 * time.Second
	}
	return nil
}

// defaultLcores maps lcores 0 and 1 to the first two CPUs this process may
// run on, crossed for a client (see Options.Lcores).
func defaultLcores(role string) string {
	var set unix.CPUSet
	var cpus []int
	if unix.SchedGetaffinity(0, &set) == nil {
		for i := 0; i < len(set)*64 && len(cpus) < 2; i++ {
			if set.IsSet(i) {
				cpus = append(cpus, i)
			}
		}
	}
	switch len(cpus) {
	case 0:
		cpus = []int{0, 1}
	case 1:
		cpus = append(cpus, cpus[0])
	}
	if role == "client" {
		cpus[0], cpus[1] = cpus[1], cpus[0]
	}
	return fmt.Sprintf("0@%d,1@%d", cpus[0], cpus[1])
}

// args is testpmd's command line (without the binary).
func (o *Options) args(prefix string) []string {
	dev := []string{"net_memif0", "role=" + o.Role, "id=" + strconv.FormatUint(uint64(o.ID), 10), "socket=" + o.Socket}
	if !o.Abstract {
		dev = append(dev, "socket-abstract=no")
	}
	if o.Secret != "" {
		dev = append(dev, "secret="+o.Secret)
	}
	if o.Log2Ring != 0 {
		dev = append(dev, "rsize="+strconv.Itoa(o.Log2Ring))
	}
	if o.BufSize != 0 {
		dev = append(dev, "bsize="+strconv.Itoa(o.BufSize))
	}
	if o.ZeroCopy {
		dev = append(dev, "zero-copy=yes")
	}
	if o.MAC != "" {
		dev = append(dev, "mac="+o.MAC)
	}
	a := []string{
		"--no-huge", "-m", strconv.Itoa(o.MemMB), "--no-pci", "--no-telemetry",
		"--file-prefix=" + prefix, "--lcores=" + o.Lcores,
		"--vdev=" + strings.Join(dev, ","),
	}
	if o.ZeroCopy {
		a = append(a, "--single-file-segments")
	}
	a = append(a, o.EAL...)
	a = append(a, "--", "-i", "--total-num-mbufs="+strconv.Itoa(o.Mbufs), "--forward-mode="+o.Forward)
	if o.Burst != 0 {
		a = append(a, "--burst="+strconv.Itoa(o.Burst))
	}
	if len(o.TxPkts) > 0 {
		s := make([]string, len(o.TxPkts))
		for i, n := range o.TxPkts {
			s[i] = strconv.Itoa(n)
		}
		a = append(a, "--txpkts="+strings.Join(s, ","))
	}
	if o.EthPeer != "" {
		a = append(a, "--eth-peer=0,"+o.EthPeer)
	}
	return append(a, o.Extra...)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Start runs testpmd with o and returns once it is at its prompt with its
// memif port configured (see Launch). It fails the test if testpmd is not
// installed or does not get there; use Need first to skip instead.
//
// t.Cleanup stops it (Stop), kills its process group if it does not quit,
// removes its runtime directory, and logs its output if the test failed.
// The process also dies with the test binary (SIGKILL as parent-death
// signal, and its stdin closes).
func Start(t testing.TB, o Options) *Proc {
	t.Helper()
	p, err := Launch(o, nil)
	if p == nil {
		t.Fatalf("testpmd: %v", err)
	}
	t.Cleanup(func() {
		if _, err := p.Stop(); errors.Is(err, ErrExited) {
			// A memif server can segfault when its peer disconnects: a
			// test that cares calls Stop, Stats or Exited itself.
			t.Logf("testpmd %s: had exited before the test ended: %v", p.name, err)
		} else if err != nil {
			t.Errorf("testpmd %s: stop: %v", p.name, err)
		}
		if t.Failed() {
			t.Logf("testpmd %s (%s) output:\n%s", p.name, strings.Join(p.cmd.Args, " "), p.Log())
		}
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
	return p
}

// Launch runs testpmd with o, for callers that are not tests (skiff
// bench), and returns once it is at its prompt with its memif port
// configured: a client has tried to connect (the DPDK client never
// retries, so its server must be listening already), a server is
// listening. Unless o.NoStart it then starts forwarding; with o.TxFirst it
// first waits for the link. logf, if not nil, gets the command line.
//
// If testpmd could not be run at all, Launch returns a nil Proc. If it ran
// but did not get there, Launch returns the Proc with the error: its Log
// tells why; call Stop. The caller must call Stop when done: it quits
// testpmd and removes its runtime directory. The process also dies with
// this process (SIGKILL as parent-death signal, and its stdin closes).
func Launch(o Options, logf func(format string, args ...any)) (*Proc, error) {
	if err := o.fill(); err != nil {
		return nil, fmt.Errorf("testpmd: %w", err)
	}
	bin := Path()
	if bin == "" {
		return nil, fmt.Errorf("testpmd: %s is not installed (apt-get install dpdk-dev librte-net-memif23 librte-mempool-ring23)", Binary)
	}
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		return nil, errors.New("testpmd: stdbuf (coreutils) is not installed")
	}
	sweepOnce.Do(sweepRunDirs)
	runDir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", runDirPrefix, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("testpmd: %w", err)
	}
	p := &Proc{o: o, name: o.Name, prefix: "skiff-" + randHex(4), runDir: runDir, exited: make(chan struct{}), notify: make(chan struct{}, 1)}
	// stdbuf -o0: testpmd prints replies with stdio but the prompt with
	// write(2); on a pipe stdio would buffer, and replies would come after
	// the prompts that end them.
	p.cmd = exec.Command(stdbuf, append([]string{"-o0", "-e0", bin}, o.args(p.prefix)...)...)
	// EAL puts its runtime files (config, fbarrays, mp_socket) in
	// $RUNTIME_DIRECTORY/dpdk/<file-prefix>, which must exist.
	p.cmd.Env = append(os.Environ(), "RUNTIME_DIRECTORY="+runDir)
	p.cmd.Stdout = (*stdoutWriter)(p)
	p.cmd.Stderr = (*logWriter)(p)
	p.cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true, Pdeathsig: unix.SIGKILL}
	p.cmd.WaitDelay = 2 * time.Second
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		os.RemoveAll(runDir)
		return nil, fmt.Errorf("testpmd: %w", err)
	}
	if logf != nil {
		logf("testpmd %s: %s", p.name, strings.Join(p.cmd.Args, " "))
	}

	// The parent-death signal fires when the thread that forked exits, and
	// the Go runtime ends threads that goroutines leave locked (nstest
	// does): fork from a locked thread that lives as long as the child.
	startErr := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := p.cmd.Start(); err != nil {
			startErr <- err
			return
		}
		startErr <- nil
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	if err := <-startErr; err != nil {
		os.RemoveAll(runDir)
		return nil, fmt.Errorf("testpmd: %w", err)
	}

	if _, err := p.reply("", o.StartTimeout); err != nil {
		return p, fmt.Errorf("testpmd %s: start-up: %w", p.name, err)
	}
	sum, err := p.summary()
	if err != nil {
		return p, fmt.Errorf("testpmd %s: %w", p.name, err)
	}
	p.mac = sum.MAC
	if o.NoStart {
		return p, nil
	}
	if o.TxFirst {
		if err := p.WaitLinkUp(o.LinkTimeout); err != nil {
			return p, fmt.Errorf("testpmd %s: before tx_first: %w", p.name, err)
		}
	}
	if err := p.StartForwarding(); err != nil {
		return p, fmt.Errorf("testpmd %s: %w", p.name, err)
	}
	return p, nil
}

// runDirPrefix starts the name of each instance's temporary directory,
// followed by the test process's pid.
const runDirPrefix = "skiff-dpdk-"

var sweepOnce sync.Once

// sweepRunDirs removes the runtime directories of test processes that died
// without their cleanups (a go test timeout panics past them); their
// testpmds died with them (parent-death signal).
func sweepRunDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), runDirPrefix+"*"))
	for _, d := range dirs {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), runDirPrefix), "-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n <= 0 || n == os.Getpid() {
			continue
		}
		if unix.Kill(n, 0) == unix.ESRCH {
			os.RemoveAll(d)
		}
	}
}

type stdoutWriter Proc

func (w *stdoutWriter) Write(b []byte) (int, error) {
	p := (*Proc)(w)
	p.outMu.Lock()
	p.log.Write(b)
	segs := p.split.feed(b)
	p.segs = append(p.segs, segs...)
	p.outMu.Unlock()
	if len(segs) > 0 {
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
	return len(b), nil
}

type logWriter Proc

func (w *logWriter) Write(b []byte) (int, error) {
	p := (*Proc)(w)
	p.outMu.Lock()
	p.log.Write(b)
	p.outMu.Unlock()
	return len(b), nil
}

// reply waits for the next prompt and returns the output before it, less
// the echo of cmd.
func (p *Proc) reply(cmd string, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.outMu.Lock()
		if len(p.segs) > 0 {
			seg := p.segs[0]
			p.segs = p.segs[1:]
			p.outMu.Unlock()
			return stripEcho(seg, cmd), nil
		}
		p.outMu.Unlock()
		select {
		case <-p.notify:
		case <-p.exited:
			p.outMu.Lock()
			n := len(p.segs)
			p.outMu.Unlock()
			if n == 0 {
				return "", fmt.Errorf("%w (%v)", ErrExited, p.waitErr)
			}
		case <-deadline.C:
			return "", fmt.Errorf("no prompt within %v", timeout)
		}
	}
}

// Command sends one line to testpmd's prompt and returns its reply: what
// testpmd printed to stdout before the next prompt, without the echo of
// the command. (testpmd prints some errors, such as "Packet forwarding
// already started", to stderr: those are only in Log.) If no prompt comes
// within Options.CmdTimeout, this and every later command fail.
func (p *Proc) Command(cmd string) (string, error) {
	p.cmdMu.Lock()
	defer p.cmdMu.Unlock()
	return p.command(cmd)
}

func (p *Proc) command(cmd string) (string, error) {
	if p.broken != nil {
		return "", p.broken
	}
	if strings.ContainsAny(cmd, "\r\n") {
		return "", fmt.Errorf("testpmd command %q: one line only", cmd)
	}
	select {
	case <-p.exited:
		return "", fmt.Errorf("testpmd %s: %q: %w (%v)", p.name, cmd, ErrExited, p.waitErr)
	default:
	}
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		p.broken = fmt.Errorf("testpmd %s: %q: %w", p.name, cmd, err)
		return "", p.broken
	}
	out, err := p.reply(cmd, p.o.CmdTimeout)
	if err != nil {
		p.broken = fmt.Errorf("testpmd %s: %q: %w", p.name, cmd, err)
		return "", p.broken
	}
	for _, bad := range []string{"Command not found", "Bad arguments", "Invalid port"} {
		if strings.Contains(out, bad) {
			return out, fmt.Errorf("testpmd %s: %q: %s", p.name, cmd, strings.TrimSpace(out))
		}
	}
	return out, nil
}

// StartForwarding starts the forwarding lcore ("start", or "start tx_first
// N" with Options.TxFirst). With tx_first the link should be up: frames
// sent while it is down are dropped, and a ping-pong never begins.
func (p *Proc) StartForwarding() error {
	p.cmdMu.Lock()
	defer p.cmdMu.Unlock()
	cmd := "start"
	if p.o.TxFirst {
		cmd = "start tx_first"
		if p.o.TxFirstBursts > 1 {
			cmd += " " + strconv.Itoa(p.o.TxFirstBursts)
		}
	}
	out, err := p.command(cmd)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "packet forwarding") {
		return fmt.Errorf("testpmd %s: %q: forwarding did not start (already started?): %q", p.name, cmd, out)
	}
	p.started = true
	return nil
}

// StopForwarding stops the forwarding lcore ("stop") and then reads Stats:
// the forward counters are final, the NIC counters too if the peer is
// still connected. Read a peer's counters before the other side
// disconnects: memif zeroes them then (see Stats).
func (p *Proc) StopForwarding() (Stats, error) {
	p.cmdMu.Lock()
	defer p.cmdMu.Unlock()
	if p.started {
		if _, err := p.command("stop"); err != nil {
			return Stats{}, err
		}
		p.started = false
	}
	return p.stats()
}

// Stats reads port 0's counters ("show port stats 0", "show fwd stats
// all") and link state ("show port summary 0").
func (p *Proc) Stats() (Stats, error) {
	p.cmdMu.Lock()
	defer p.cmdMu.Unlock()
	return p.stats()
}

func (p *Proc) stats() (Stats, error) {
	var text string
	for _, c := range []string{"show port stats 0", "show fwd stats all"} {
		out, err := p.command(c)
		if err != nil {
			return Stats{}, err
		}
		text += out
	}
	m, err := ParseStats(text)
	if err != nil {
		return Stats{}, fmt.Errorf("testpmd %s: %w", p.name, err)
	}
	s, ok := m[0]
	if !ok || !s.HasNIC || !s.HasFwd {
		return Stats{}, fmt.Errorf("testpmd %s: no port 0 NIC and forward statistics in %q", p.name, clip(text))
	}
	sum, err := p.summary()
	if err != nil {
		return Stats{}, err
	}
	s.LinkUp = sum.Up()
	return s, nil
}

func (p *Proc) summary() (PortSummary, error) {
	out, err := p.command("show port summary 0")
	if err != nil {
		return PortSummary{}, err
	}
	rows, err := ParseSummary(out)
	if err != nil {
		return PortSummary{}, fmt.Errorf("testpmd %s: %w", p.name, err)
	}
	return rows[0], nil
}

// LinkUp reports whether port 0's memif link is up (connected to a peer).
func (p *Proc) LinkUp() (bool, error) {
	p.cmdMu.Lock()
	defer p.cmdMu.Unlock()
	s, err := p.summary()
	return s.Up(), err
}

// WaitLinkUp polls the link state every 10 ms until it is up.
func (p *Proc) WaitLinkUp(timeout time.Duration) error {
	end := time.Now().Add(timeout)
	for {
		up, err := p.LinkUp()
		if err != nil || up {
			return err
		}
		if time.Now().After(end) {
			return fmt.Errorf("testpmd %s: link not up within %v", p.name, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop stops forwarding, reads the final Stats, quits testpmd and removes
// its runtime directory. It kills the process group if testpmd has not
// exited 10 s after quit. It ignores the exit status of the quit: a memif
// server can segfault on its way out after "Bye...". If testpmd had exited
// before Stop (a memif server sometimes segfaults when its client
// disconnects), the error wraps ErrExited. Later calls return the first
// call's result.
func (p *Proc) Stop() (Stats, error) {
	p.stopOnce.Do(func() {
		p.final, p.stopErr = p.StopForwarding()
		p.cmdMu.Lock()
		if p.broken == nil {
			io.WriteString(p.stdin, "quit\n")
		}
		p.stdin.Close() // EOF at the prompt quits as well
		p.cmdMu.Unlock()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.kill()
			<-p.exited
		}
		if err := os.RemoveAll(p.runDir); err != nil && p.stopErr == nil {
			p.stopErr = err
		}
		if !p.o.Abstract && p.o.Role == "server" {
			// The PMD unlinks its socket file on close, but not when it
			// crashed or was killed.
			os.Remove(p.o.Socket)
		}
	})
	return p.final, p.stopErr
}

func (p *Proc) kill() {
	select {
	case <-p.exited:
	default:
		unix.Kill(-p.cmd.Process.Pid, unix.SIGKILL)
	}
}

// Exited reports whether testpmd has exited and, if so, its exit status
// (the *exec.ExitError of a crash, for instance).
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.exited:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Log returns everything testpmd printed so far, stdout and stderr, for
// failure messages.
func (p *Proc) Log() string {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	return p.log.String()
}

// MAC is the MAC address of testpmd's memif port (Options.MAC, or random).
// In macswap mode testpmd sends each frame back with source and
// destination swapped, so the echo comes from the address the sender used
// as destination; in io mode frames come back unchanged.
func (p *Proc) MAC() net.HardwareAddr { return p.mac }

// Socket returns the memif control socket and whether it is abstract.
func (p *Proc) Socket() (string, bool) { return p.o.Socket, p.o.Abstract }

// Options returns the options after defaults were filled in.
func (p *Proc) Options() Options { return p.o }

// Pid is the process id of testpmd.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Prefix is the EAL --file-prefix of this instance.
func (p *Proc) Prefix() string { return p.prefix }

// RuntimeDir is the directory EAL keeps this instance's runtime files in
// (config, fbarrays, mp_socket), inside a temporary directory of its own
// that Stop removes.
func (p *Proc) RuntimeDir() string { return filepath.Join(p.runDir, "dpdk", p.prefix) }

// RSS returns testpmd's resident set size in bytes.
func (p *Proc) RSS() (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}
