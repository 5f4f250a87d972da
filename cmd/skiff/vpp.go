// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/vpp/vppapi"
)

// vppDial connects to VPP's binary API and vppDialStats to its stats
// segment; tests replace them.
var (
	vppDial = func(path string) (vppapi.Conn, func(), error) {
		c, err := vppapi.Dial(path)
		if err != nil {
			return nil, nil, err
		}
		return c, c.Disconnect, nil
	}
	vppDialStats = func(path string) (vppapi.Stats, func(), error) {
		c, err := vppapi.DialStats(path)
		if err != nil {
			return nil, nil, err
		}
		return c, c.Disconnect, nil
	}
)

// vppSub is a subcommand of skiff vpp.
type vppSub struct {
	name, args, summary string
	// setup declares the flags on fs and returns the function that runs
	// the subcommand once they are parsed.
	setup func(fs *flag.FlagSet) func(ctx context.Context, e *env) error
}

func vppSubs() []*vppSub {
	return []*vppSub{
		{"attach", "-socket PATH -role server|client (-bridge N | -xconnect IFNAME) [FLAGS]",
			"create VPP's end of skiff's memif and put it into a bridge domain or cross-connect it with a VPP interface; on a failure, undo what was done", setupVPPAttach},
		{"detach", "-socket PATH [-id N] [FLAGS]",
			"remove the memif from VPP: its cross-connects or bridge membership, the bridge domain if skiff created it and it is empty, the memif, and the socket file if nothing else uses it", setupVPPDetach},
		{"show", "[-socket PATH] [-id N] [-all] [-json] [FLAGS]",
			"show the memifs skiff attached: state, ring and buffer sizes, MTU, L2 attachment, and VPP's counters", setupVPPShow},
	}
}

// setupVPP is skiff vpp: it dispatches to a subcommand with its own flags.
func setupVPP(fs *flag.FlagSet) func(e *env, args []string) error {
	subs := vppSubs()
	var chosen *vppSub
	fs.Usage = func() { vppUsage(fs.Output(), subs, chosen) }
	return func(e *env, args []string) error {
		if len(args) == 0 {
			return usagef("missing subcommand: attach, detach or show")
		}
		for _, s := range subs {
			if s.name == args[0] {
				chosen = s
			}
		}
		if chosen == nil {
			return usagef("unknown subcommand %q", args[0])
		}
		sfs := flag.NewFlagSet("skiff vpp "+chosen.name, flag.ContinueOnError)
		sfs.SetOutput(io.Discard) // run prints the error and the usage
		runSub := chosen.setup(sfs)
		if err := sfs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				vppUsage(e.stderr, subs, chosen)
				return nil
			}
			return usagef("%v", err)
		}
		if sfs.NArg() > 0 {
			return usagef("unexpected argument %q", sfs.Arg(0))
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return runSub(ctx, e)
	}
}

// vppUsage prints the usage of one subcommand, or of all with their flags.
func vppUsage(w io.Writer, subs []*vppSub, chosen *vppSub) {
	if chosen != nil {
		fmt.Fprintf(w, "usage: skiff vpp %s %s\n\n%s.\n\nFlags:\n", chosen.name, chosen.args, upperFirst(chosen.summary))
		vppFlags(w, chosen)
		return
	}
	fmt.Fprint(w, "usage: skiff vpp attach|detach|show [FLAGS]\n\n"+
		"Attach skiff to a VPP router over VPP's binary API: VPP gets a memif whose\n"+
		"other end is skiff's memif port, in a bridge domain or cross-connected with\n"+
		"one of VPP's interfaces. The memif roles are opposite: -role is skiff's\n"+
		"(server: skiff listens on the socket and VPP connects as the client).\n")
	for _, s := range subs {
		fmt.Fprintf(w, "\nskiff vpp %s %s\n\n%s.\n\nFlags:\n", s.name, s.args, upperFirst(s.summary))
		vppFlags(w, s)
	}
}

func vppFlags(w io.Writer, s *vppSub) {
	fs := flag.NewFlagSet(s.name, flag.ContinueOnError)
	s.setup(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// vppConnFlags are the flags every subcommand has.
type vppConnFlags struct {
	api     *string
	timeout *time.Duration
	json    *bool
}

func addVPPConnFlags(fs *flag.FlagSet) vppConnFlags {
	return vppConnFlags{
		api:     fs.String("api", vppapi.DefaultAPISocket, "VPP's binary API `SOCKET` (startup.conf: socksvr { socket-name ... })"),
		timeout: fs.Duration("timeout", 10*time.Second, "give up on VPP after `DURATION`"),
		json:    fs.Bool("json", false, "print the result as JSON"),
	}
}

// connect dials VPP with the timeout.
func (c vppConnFlags) connect(ctx context.Context) (vppapi.Conn, context.Context, func(), error) {
	if *c.timeout <= 0 {
		return nil, nil, nil, usagef("-timeout %v: must be above 0", *c.timeout)
	}
	conn, disconnect, err := vppDial(*c.api)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, *c.timeout)
	return conn, ctx, func() { cancel(); disconnect() }, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// memifFlags are the flags naming skiff's memif, or the config file
// whose local.memif names it.
type memifFlags struct {
	fs     *flag.FlagSet
	config *string
	socket *string
	id     *uint64
}

func addMemifFlags(fs *flag.FlagSet, what string) memifFlags {
	return memifFlags{
		fs:     fs,
		config: fs.String("c", "", "take the memif's socket, id, role, secret, queues, ring and buffer sizes from the local.memif section of skiff's config `FILE` (flags given as well override it)"),
		socket: fs.String("socket", "", what+"the memif socket `PATH`: an absolute path, or abstract:NAME for an abstract socket; skiff's memif config has the same"),
		id:     fs.Uint64("id", 0, "the memif interface `ID` on that socket (skiff's memif config has the same)"),
	}
}

// load reads -c FILE, if given, and returns its local.memif (nil without
// -c). It sets -socket and -id from it unless they were given.
func (m memifFlags) load() (*conf.Memif, error) {
	if *m.config == "" {
		return nil, nil
	}
	c, err := conf.Load(*m.config)
	if err != nil {
		return nil, err
	}
	if c.Local.Type != conf.LocalMemif || c.Local.Memif == nil {
		return nil, fmt.Errorf("%s: local.type is %v, not memif: nothing to attach", *m.config, c.Local.Type)
	}
	cm := c.Local.Memif
	if !m.given("socket") {
		// skiff writes an abstract socket @NAME, VPP abstract:NAME.
		*m.socket = cm.Socket
		if rest, ok := strings.CutPrefix(cm.Socket, "@"); ok {
			*m.socket = "abstract:" + rest
		}
	}
	if !m.given("id") {
		*m.id = uint64(cm.ID)
	}
	return cm, nil
}

// given reports whether the flag name was set on the command line.
func (m memifFlags) given(name string) bool {
	set := false
	m.fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func (m memifFlags) check(required bool) error {
	if required && *m.socket == "" {
		return usagef("missing -socket PATH (or -c FILE)")
	}
	if *m.id > math.MaxUint32 {
		return usagef("-id %d out of range 0..%d", *m.id, uint32(math.MaxUint32))
	}
	return nil
}

func setupVPPAttach(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	cf := addVPPConnFlags(fs)
	mf := addMemifFlags(fs, "(required) ")
	role := fs.String("role", "", "(required) skiff's memif `ROLE`, server or client; VPP takes the other (server: skiff listens on the socket, VPP connects as the slave)")
	secret := fs.String("secret", "", "the memif shared `SECRET` (at most 23 bytes; skiff's memif config has the same)")
	queues := fs.Int("queues", vppapi.DefaultQueues, "`N` queues each way (VPP uses this as the slave, -role server; as the master it takes what skiff asks for)")
	ring := fs.Int("ring", vppapi.DefaultRing, "ring size in slots, a power of two `N` in 2..16384")
	buffer := fs.Int("buffer", vppapi.DefaultBuffer, "buffer size in `BYTES` (128..65535)")
	zeroCopy := fs.Bool("zero-copy", false, "let VPP, as the slave (-role server), expose its own buffers to skiff instead of copying")
	mac := fs.String("mac", "", "Ethernet `ADDRESS` of VPP's memif (default: VPP picks one)")
	mtu := fs.Int("mtu", vppapi.DefaultMTU, "`MTU` of VPP's memif (576..9000; match skiff's side)")
	bridge := fs.Uint64("bridge", 0, "put the memif into bridge domain `N` (1..16777215), creating it (tagged skiff) if VPP has none")
	xconnect := fs.String("xconnect", "", "cross-connect the memif both ways with VPP's interface `IFNAME` (it must be in L3 mode: not bridged or cross-connected)")
	return func(ctx context.Context, e *env) error {
		cm, err := mf.load()
		if err != nil {
			return err
		}
		if cm != nil {
			// The config's side of the memif, unless a flag says otherwise.
			if !mf.given("role") {
				*role = "client"
				if cm.Server {
					*role = "server"
				}
			}
			if !mf.given("secret") {
				*secret = cm.Secret
			}
			if !mf.given("queues") {
				*queues = cm.Queues
			}
			if !mf.given("ring") {
				*ring = cm.RingSize
			}
			if !mf.given("buffer") {
				*buffer = cm.BufferSize
			}
		}
		if err := mf.check(true); err != nil {
			return err
		}
		if *role == "" {
			return usagef("missing -role server|client (or -c FILE)")
		}
		r, err := vppapi.ParseRole(*role)
		if err != nil {
			return usagef("-role %v", err)
		}
		switch {
		case *bridge != 0 && *xconnect != "":
			return usagef("-bridge and -xconnect are mutually exclusive")
		case *bridge == 0 && *xconnect == "":
			return usagef("give -bridge N or -xconnect IFNAME")
		case *bridge > vppapi.MaxBridge:
			return usagef("-bridge %d out of range 1..%d", *bridge, vppapi.MaxBridge)
		}
		spec := vppapi.AttachSpec{
			Socket: *mf.socket, ID: uint32(*mf.id), Role: r, Secret: *secret,
			Queues: *queues, Ring: *ring, Buffer: *buffer, ZeroCopy: *zeroCopy, MTU: *mtu,
			Bridge: uint32(*bridge), Xconnect: *xconnect,
		}
		if *mac != "" {
			if spec.MAC, err = net.ParseMAC(*mac); err != nil {
				return usagef("-mac: %v", err)
			}
		}
		// Zero sizes would mean VPP's defaults; on the command line they
		// are mistakes.
		for _, z := range []struct {
			flag string
			v    int
		}{{"queues", *queues}, {"ring", *ring}, {"buffer", *buffer}, {"mtu", *mtu}} {
			if z.v == 0 {
				return usagef("-%s 0: must be above 0", z.flag)
			}
		}
		if err := spec.Validate(); err != nil {
			return specUsage(err)
		}
		conn, ctx, done, err := cf.connect(ctx)
		if err != nil {
			return err
		}
		defer done()
		a, err := vppapi.Attach(ctx, conn, spec)
		if err != nil {
			return err
		}
		if *cf.json {
			return printJSON(e.stdout, a)
		}
		how := fmt.Sprintf("bridge domain %d", a.Bridge)
		if a.BridgeCreated {
			how += " (created)"
		}
		if a.Xconnect != "" {
			how = fmt.Sprintf("cross-connected with %s (sw_if_index %d)", a.Xconnect, a.XconnectIndex)
		} else {
			how = "in " + how
		}
		_, err = fmt.Fprintf(e.stdout, "attached %s (sw_if_index %d, VPP %s for skiff's %s, socket %d %s, id %d), %s\n",
			a.Name, a.SwIfIndex, a.VPPRole, a.Role, a.SocketID, a.Socket, a.ID, how)
		return err
	}
}

// specUsage turns the spec's problems into a usage error naming the flags.
func specUsage(err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var msgs []string
	for _, e := range errs {
		var fe *vppapi.FieldError
		if errors.As(e, &fe) {
			msgs = append(msgs, "-"+fe.Error())
		} else {
			msgs = append(msgs, e.Error())
		}
	}
	return usagef("%s", strings.Join(msgs, "; "))
}

func setupVPPDetach(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	cf := addVPPConnFlags(fs)
	mf := addMemifFlags(fs, "(required) ")
	return func(ctx context.Context, e *env) error {
		if _, err := mf.load(); err != nil {
			return err
		}
		if err := mf.check(true); err != nil {
			return err
		}
		if err := vppapi.ValidSocket(*mf.socket); err != nil {
			return specUsage(err)
		}
		conn, ctx, done, err := cf.connect(ctx)
		if err != nil {
			return err
		}
		defer done()
		d, err := vppapi.Detach(ctx, conn, *mf.socket, uint32(*mf.id))
		if err != nil {
			return err
		}
		if *cf.json {
			return printJSON(e.stdout, d)
		}
		var what []string
		switch {
		case d.Xconnect != 0:
			what = append(what, fmt.Sprintf("cross-connect with sw_if_index %d removed", d.Xconnect))
		case d.Bridge != 0 && d.BridgeDeleted:
			what = append(what, fmt.Sprintf("bridge domain %d left and deleted", d.Bridge))
		case d.Bridge != 0:
			what = append(what, fmt.Sprintf("bridge domain %d left", d.Bridge))
		}
		what = append(what, "memif deleted")
		if d.SocketDeleted {
			what = append(what, fmt.Sprintf("socket %d deleted", d.SocketID))
		} else {
			what = append(what, fmt.Sprintf("socket %d kept", d.SocketID))
		}
		_, err = fmt.Fprintf(e.stdout, "detached %s (sw_if_index %d): %s\n", d.Name, d.SwIfIndex, strings.Join(what, ", "))
		return err
	}
}

func setupVPPShow(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	cf := addVPPConnFlags(fs)
	mf := addMemifFlags(fs, "only the memifs on ")
	stats := fs.String("stats", vppapi.DefaultStatsSocket, "VPP's stats `SOCKET` for the counters (startup.conf: statseg { socket-name ... }); empty: no counters")
	all := fs.Bool("all", false, "every memif in VPP, not only those skiff attached (tagged skiff)")
	return func(ctx context.Context, e *env) error {
		if _, err := mf.load(); err != nil {
			return err
		}
		if err := mf.check(false); err != nil {
			return err
		}
		f := vppapi.ShowFilter{All: *all, Socket: *mf.socket, ID: uint32(*mf.id)}
		fs.Visit(func(fl *flag.Flag) { f.HasID = f.HasID || fl.Name == "id" })
		if f.Socket != "" {
			if err := vppapi.ValidSocket(f.Socket); err != nil {
				return specUsage(err)
			}
		}
		conn, ctx, done, err := cf.connect(ctx)
		if err != nil {
			return err
		}
		defer done()
		ms, err := vppapi.Show(ctx, conn, f)
		if err != nil {
			return err
		}
		if *stats != "" && len(ms) > 0 {
			if err := addVPPCounters(*stats, ms); err != nil {
				fmt.Fprintf(e.stderr, "skiff vpp show: no counters: %v\n", err)
			}
		}
		if *cf.json {
			if ms == nil {
				ms = []vppapi.Memif{}
			}
			return printJSON(e.stdout, ms)
		}
		printVPPShow(e.stdout, ms, *all)
		return nil
	}
}

func addVPPCounters(path string, ms []vppapi.Memif) error {
	st, disconnect, err := vppDialStats(path)
	if err != nil {
		return err
	}
	defer disconnect()
	return vppapi.AddCounters(st, ms)
}

func printVPPShow(w io.Writer, ms []vppapi.Memif, all bool) {
	if len(ms) == 0 {
		if all {
			fmt.Fprintln(w, "VPP has no memif")
		} else {
			fmt.Fprintln(w, "VPP has no memif skiff attached (skiff vpp show -all lists every memif)")
		}
		return
	}
	upDown := func(up bool) string {
		if up {
			return "up"
		}
		return "down"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMIF\tSW_IF_INDEX\tSKIFF ROLE\tID\tSOCKET\tRING\tBUFFER\tADMIN\tLINK\tMTU\tL2")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%d\t%s (VPP %s)\t%d\t%d %s\t%d\t%d\t%s\t%s\t%d\t%s\n",
			m.Name, m.SwIfIndex, m.Role, m.VPPRole, m.ID, m.SocketID, m.Socket, m.Ring, m.Buffer, upDown(m.AdminUp), upDown(m.LinkUp), m.MTU, m.L2())
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "COUNTERS\tRX PACKETS\tRX BYTES\tTX PACKETS\tTX BYTES\tDROPS\tRX ERRORS\tTX ERRORS\tRX NO BUF\tRX MISS\t")
	for _, m := range ms {
		c := m.Counters
		if c == nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", m.Name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", m.Name, c.RxPackets, c.RxBytes, c.TxPackets, c.TxBytes, c.Drops, c.RxErrors, c.TxErrors, c.RxNoBuf, c.RxMiss)
	}
	tw.Flush()
}
