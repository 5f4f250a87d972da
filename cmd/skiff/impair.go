// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/skiffnet/skiff/bench/impair"
)

// impairStdin is where skiff impair reads its commands (tests replace it).
var impairStdin io.Reader = os.Stdin

func setupImpair(fs *flag.FlagSet) func(e *env, args []string) error {
	listen := fs.String("l", "", "listen on `ADDR` (host:port) for the clients' datagrams (required; host empty: all addresses)")
	target := fs.String("t", "", "forward the datagrams to `ADDR` (host:port) (required)")
	var p impair.Params
	fs.Var(probFlag{&p.Drop}, "drop", "drop each datagram with probability `P` (0..1, or a percentage like 5%)")
	fs.Var(delayFlag{&p.Delay}, "delay", "delay every datagram by `DURATION` (e.g. 80ms)")
	fs.Var(delayFlag{&p.Jitter}, "jitter", "delay each datagram by a further uniform random 0..`DURATION` (this reorders datagrams less than DURATION apart)")
	fs.Var(probFlag{&p.Reorder}, "reorder", "hold back each datagram with probability `P` by a further -reorder-by, so later ones overtake it")
	fs.Var(delayFlag{&p.ReorderBy}, "reorder-by", "how long -reorder holds a datagram back (`DURATION`; 0 means "+impair.DefaultReorderBy.String()+")")
	fs.Var(probFlag{&p.Duplicate}, "dup", "send each datagram twice with probability `P`")
	seed := fs.Uint64("seed", 1, "`SEED` of the random decisions: the same seed and the same datagrams make the same decisions")
	maxQueue := fs.Int("max-queue", impair.DefaultMaxQueue, "hold at most `N` datagrams per direction for their delay; more are dropped and counted")
	maxClients := fs.Int("max-clients", impair.DefaultMaxClients, "relay for at most `N` clients (source addresses) at once, each from its own port")
	idle := fs.Duration("idle", impair.DefaultIdleTimeout, "forget a client after `DURATION` without datagrams either way")
	asJSON := fs.Bool("json", false, "print the stats as JSON")
	return noArgs(func(e *env) error {
		if *listen == "" || *target == "" {
			return usagef("give both -l ADDR and -t ADDR")
		}
		c := impair.Config{Params: p, Seed: *seed, MaxQueue: *maxQueue, MaxClients: *maxClients, IdleTimeout: *idle}
		var err error
		if c.Listen, err = parseAddrPort(*listen, true); err != nil {
			return usagef("-l: %v", err)
		}
		if c.Target, err = parseAddrPort(*target, false); err != nil {
			return usagef("-t: %v", err)
		}
		if *maxQueue < 1 || *maxClients < 1 || *idle <= 0 {
			return usagef("-max-queue, -max-clients and -idle must be above 0")
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return runImpair(ctx, e, c, impairStdin, *asJSON)
	})
}

// runImpair runs a relay until ctx is done, applying the commands read from
// in, and prints its stats on exit.
func runImpair(ctx context.Context, e *env, c impair.Config, in io.Reader, asJSON bool) error {
	r, err := impair.New(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "skiff impair: relaying %v -> %v (%v)\n", r.Addr(), c.Target, c.Params)
	var mu sync.Mutex // one writer at a time on stdout
	printStats := func() error {
		mu.Lock()
		defer mu.Unlock()
		if asJSON {
			return json.NewEncoder(e.stdout).Encode(r.Stats())
		}
		_, err := fmt.Fprintln(e.stdout, r.Stats())
		return err
	}
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			if ctx.Err() != nil {
				return
			}
			cmd, err := impair.ParseCommand(sc.Text())
			if err != nil {
				fmt.Fprintf(e.stderr, "skiff impair: %v\n", err)
				continue
			}
			switch cmd.Kind {
			case impair.CmdStats:
				printStats()
			case impair.CmdSet:
				r.SetParams(cmd.Apply(r.Params()))
			}
		}
	}()
	err = r.Run(ctx)
	if perr := printStats(); err == nil {
		err = perr
	}
	return err
}

// parseAddrPort parses host:port with an IP address or a host name; for a
// listen address the host may be empty (all addresses, both families).
func parseAddrPort(s string, listen bool) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if !listen && (ap.Port() == 0 || ap.Addr().IsUnspecified()) {
			return netip.AddrPort{}, fmt.Errorf("%q: need an address and a port", s)
		}
		return ap, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: want host:port", s)
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (!listen && pn == 0) {
		return netip.AddrPort{}, fmt.Errorf("%q: bad port %q", s, port)
	}
	if host == "" {
		if !listen {
			return netip.AddrPort{}, fmt.Errorf("%q: need an address", s)
		}
		return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(pn)), nil
	}
	ua, err := net.ResolveUDPAddr("udp", net.JoinHostPort(host, "0"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: %w", s, err)
	}
	a, _ := netip.AddrFromSlice(ua.IP)
	return netip.AddrPortFrom(a.Unmap(), uint16(pn)), nil
}

// probFlag is a probability flag: 0..1 or a percentage.
type probFlag struct{ p *float64 }

func (f probFlag) String() string {
	if f.p == nil || *f.p == 0 {
		return ""
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

func (f probFlag) Set(s string) (err error) {
	*f.p, err = impair.ParseProb(s)
	return err
}

// delayFlag is a duration flag bounded to 0..impair.MaxDelay.
type delayFlag struct{ d *time.Duration }

func (f delayFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f delayFlag) Set(s string) (err error) {
	*f.d, err = impair.ParseDelay(s)
	return err
}
