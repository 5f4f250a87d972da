// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
// When it is not, the main module's version from the build info is used,
// or "dev".
var version string

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// command is one subcommand. To add one, add an entry to commands.
type command struct {
	name    string
	args    string // synopsis after the command name, e.g. "-c FILE"
	summary string // one line for "skiff help"
	// setup declares the command's flags on fs and returns the function
	// that runs the command once the flags are parsed; args are the
	// positional arguments left after the flags.
	setup func(fs *flag.FlagSet) func(e *env, args []string) error
}

// env is what a command runs with.
type env struct {
	stdout, stderr io.Writer
	commands       []*command
}

// usageError is a command line mistake: exit code 2 and the usage text.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// commands is the dispatch table, in the order "skiff help" lists it.
func commands() []*command {
	return []*command{
		{name: "up", args: "-c FILE", summary: "run a node until SIGINT or SIGTERM, then remove what it created", setup: setupUp},
		{name: "status", args: "[-c FILE | -s SOCKET] [-json]", summary: "show a running node's peers, paths, sessions, traffic and drops", setup: setupStatus},
		{name: "peers", args: "[-c FILE | -s SOCKET] [-json]", summary: "list a mesh node's other nodes: session state, direct link, next hop, latency, loss", setup: setupMeshView(printPeers)},
		{name: "route", args: "[-c FILE | -s SOCKET] [-json]", summary: "show a mesh node's route to every other node: next hop, latency, cost in hops", setup: setupMeshView(printRoutes)},
		{name: "traffic", args: "(-l ADDR | -c ADDR) [-u | -e] [FLAGS]", summary: "send, receive or echo benchmark traffic (TCP transfers, paced UDP load, UDP round trips) and report it", setup: setupTraffic},
		{name: "impair", args: "-l ADDR -t ADDR [-drop P] [-delay D] [-jitter D] [-reorder P] [-dup P] [-seed N]", summary: "relay UDP datagrams to a target, dropping, delaying, reordering and duplicating them", setup: setupImpair},
		{name: "bench", args: "[--quick] [--rows LIST] [--row SPEC]... [--json FILE] [--svg FILE] [--wireguard-go PATH]", summary: "measure skiff against veth, kernel VXLAN and wireguard-go in network namespaces it creates and removes", setup: setupBench},
		{name: "vpp", args: "attach|detach|show [FLAGS]", summary: "attach skiff's memif to a VPP router (a bridge domain or a cross-connect), detach it, show it", setup: setupVPP},
		{name: "check", args: "-c FILE", summary: "validate a config file and report every problem in it", setup: setupCheck},
		{name: "example", summary: "print a commented example config", setup: setupExample},
		{name: "keygen", summary: "print a new random pre-shared key (base64)", setup: setupKeygen},
		{name: "version", summary: "print the version of skiff", setup: setupVersion},
		{name: "help", args: "[COMMAND]", summary: "show the commands, or one command's flags", setup: setupHelp},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args (without the program name) and returns
// the exit code: 0 ok, 1 runtime error, 2 usage error.
func run(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, commands: commands()}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "skiff: no command")
		e.usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		e.usage(stdout)
		return exitOK
	}
	cmd := e.lookup(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "skiff: unknown command %q\n", name)
		e.usage(stderr)
		return exitUsage
	}

	fs := e.flagSet(cmd, stderr)
	runCmd := cmd.setup(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK // fs printed the usage
		}
		return exitUsage // fs printed the error and the usage
	}
	err := runCmd(e, fs.Args())
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errSilent):
		return exitRuntime
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "skiff %s: %v\n", cmd.name, err)
		fs.Usage()
		return exitUsage
	default:
		fmt.Fprintf(stderr, "skiff %s: %v\n", cmd.name, err)
		return exitRuntime
	}
}

func (e *env) lookup(name string) *command {
	for _, c := range e.commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// flagSet returns the command's flag set, printing its usage to w.
func (e *env) flagSet(cmd *command, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("skiff "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "usage: skiff %s\n\n%s.\n", strings.TrimSpace(cmd.name+" "+cmd.args), upperFirst(cmd.summary))
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(out, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// usage prints the summary of every command.
func (e *env) usage(w io.Writer) {
	fmt.Fprint(w, "skiff carries Ethernet over UDP between sites.\n\nusage: skiff COMMAND [FLAGS] [ARGS]\n\nCommands:\n")
	width := 0
	for _, c := range e.commands {
		width = max(width, len(c.name))
	}
	for _, c := range e.commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"skiff help COMMAND\" for a command's flags.\n")
}

// noArgs wraps a command that takes no positional arguments.
func noArgs(f func(e *env) error) func(e *env, args []string) error {
	return func(e *env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		return f(e)
	}
}

func setupCheck(fs *flag.FlagSet) func(e *env, args []string) error {
	file := fs.String("c", "", "the config `FILE` to check (required)")
	return noArgs(func(e *env) error {
		if *file == "" {
			return usagef("missing -c FILE")
		}
		c, err := conf.Load(*file)
		if err != nil {
			// Every problem on its own line, without a prefix: each already
			// names the file and the line.
			fmt.Fprintln(e.stderr, err)
			return errSilent
		}
		peers := "peers"
		if len(c.Peers) == 1 {
			peers = "peer"
		}
		fmt.Fprintf(e.stdout, "%s: ok (node %s id %d, %d %s)\n", *file, c.Node.Name, c.Node.ID, len(c.Peers), peers)
		return nil
	})
}

// errSilent is a runtime error whose message has been printed already.
var errSilent = &silentError{}

type silentError struct{}

func (*silentError) Error() string { return "failed" }

func setupExample(fs *flag.FlagSet) func(e *env, args []string) error {
	return noArgs(func(e *env) error {
		_, err := io.WriteString(e.stdout, conf.Example)
		return err
	})
}

func setupKeygen(fs *flag.FlagSet) func(e *env, args []string) error {
	return noArgs(func(e *env) error {
		k, err := wire.GeneratePSK()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(e.stdout, k.String())
		return err
	})
}

func setupVersion(fs *flag.FlagSet) func(e *env, args []string) error {
	return noArgs(func(e *env) error {
		_, err := fmt.Fprintf(e.stdout, "skiff %s (%s, %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return err
	})
}

// versionString is version, or the main module's version, or "dev".
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func setupHelp(fs *flag.FlagSet) func(e *env, args []string) error {
	return func(e *env, args []string) error {
		switch len(args) {
		case 0:
			e.usage(e.stdout)
			return nil
		case 1:
			cmd := e.lookup(args[0])
			if cmd == nil {
				return usagef("unknown command %q", args[0])
			}
			sub := e.flagSet(cmd, e.stdout)
			cmd.setup(sub)
			sub.Usage()
			return nil
		}
		return usagef("too many arguments")
	}
}
