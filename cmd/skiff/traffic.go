// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skiffnet/skiff/bench/traffic"
)

// trafficModes is the end of "skiff help traffic".
const trafficModes = `
Modes (each prints one line, or with -json one JSON object, on stdout):
  TCP receive (tcp)         -l ADDR [-P N] [-nosha]
  TCP send (tcp)            -c ADDR (-n BYTES | -t DURATION) [-P N] [-seed S]
  UDP sink (udp-sink)       -u -l ADDR
  UDP generator (udp-gen)   -u -c ADDR [-s SIZE] [-r PPS] [-t DURATION]
  UDP echo server (echo)    -e -l ADDR
  round-trip times (rtt)    -e -c ADDR [-n COUNT] [-i INTERVAL] [-s SIZE]
Every mode takes -timeout and -json; a flag of another mode is a usage
error. The UDP sink stops 200ms after the generator's end marker, the echo
server at -timeout or on SIGINT/SIGTERM; both report what they counted.
`

// trafficMode is one way of running skiff traffic.
type trafficMode struct {
	name  string
	flags string // the flags it takes, besides -l or -c, -timeout and -json
}

var (
	tcpReceive = &trafficMode{"TCP receive (-l)", "P nosha"}
	tcpSend    = &trafficMode{"TCP send (-c)", "n t P seed"}
	udpSink    = &trafficMode{"the UDP sink (-u -l)", "u"}
	udpGen     = &trafficMode{"the UDP generator (-u -c)", "u s r t"}
	echoServe  = &trafficMode{"the echo server (-e -l)", "e"}
	echoProbe  = &trafficMode{"the echo probe (-e -c)", "e n i s"}
)

func setupTraffic(fs *flag.FlagSet) func(e *env, args []string) error {
	listen := fs.String("l", "", "receive: listen on `ADDR` (host:port); TCP: accept -P connections and read them to the end; -u: count the generator's datagrams; -e: echo datagrams back")
	connect := fs.String("c", "", "send: to `ADDR` (host:port); TCP: connect -P times and send -n bytes or for -t; -u: generate datagrams; -e: send probes and measure round-trip times")
	udpMode := fs.Bool("u", false, "UDP load: a paced generator of sequence-numbered datagrams (-c) and a sink counting loss, duplicates and reordering (-l)")
	echoMode := fs.Bool("e", false, "UDP echo: a server reflecting datagrams (-l) and a prober measuring round-trip times (-c)")
	size := fs.String("n", "", "TCP send: `N` bytes in total, split over the streams (suffixes K, M, G: powers of 1024; default 100M unless -t); echo probe: number of probes (default 1000)")
	dur := fs.Duration("t", 0, "TCP send: send for this `DURATION` instead of -n bytes; UDP generator: how long to send (default 10s)")
	streams := fs.Int("P", 1, "TCP: `N` parallel connections; the receiver waits for all of them")
	seed := fs.Uint64("seed", 1, "TCP send: seed `S` of the pseudo-random bytes")
	dsize := fs.Int("s", 64, "UDP generator and echo probe: UDP payload `SIZE` in bytes (generator 16..65507, probe 24..65507)")
	rate := fs.Int("r", 0, "UDP generator: offered rate, `PPS` datagrams per second; 0: as fast as possible")
	interval := fs.Duration("i", time.Millisecond, "echo probe: `INTERVAL` between probes")
	wait := fs.Duration("timeout", 5*time.Minute, "overall limit `DURATION`: TCP gives up (a send keeps retrying to connect until then); the UDP sink and the echo server stop and report; the generator and the probe stop early")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	noSHA := fs.Bool("nosha", false, "TCP receive: do not compute the SHA-256 (benchmarks: hashing costs a core at a few Gbit/s on CPUs without SHA instructions); senders with -t never hash")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), trafficModes)
	}
	return noArgs(func(e *env) error {
		set := map[string]bool{}
		var given []string // in lexical order
		fs.Visit(func(f *flag.Flag) {
			set[f.Name] = true
			given = append(given, f.Name)
		})
		if *udpMode && *echoMode {
			return usagef("-u and -e exclude each other")
		}
		if (*listen == "") == (*connect == "") {
			return usagef("give exactly one of -l ADDR (receive) and -c ADDR (send)")
		}
		var mode *trafficMode
		switch {
		case *udpMode && *listen != "":
			mode = udpSink
		case *udpMode:
			mode = udpGen
		case *echoMode && *listen != "":
			mode = echoServe
		case *echoMode:
			mode = echoProbe
		case *listen != "":
			mode = tcpReceive
		default:
			mode = tcpSend
		}
		if mode == tcpSend && set["n"] && set["t"] {
			return usagef("-n and -t exclude each other")
		}
		takes := strings.Fields(mode.flags + " l c timeout json")
		for _, name := range given {
			if !slices.Contains(takes, name) {
				return usagef("-%s does not apply to %s", name, mode.name)
			}
		}
		switch {
		case *wait <= 0:
			return usagef("-timeout must be positive")
		case set["P"] && *streams < 1:
			return usagef("-P must be at least 1")
		case set["t"] && *dur <= 0:
			return usagef("-t must be positive")
		case set["r"] && *rate < 0:
			return usagef("-r must not be negative")
		case set["i"] && *interval <= 0:
			return usagef("-i must be positive")
		case mode == udpGen && (*dsize < traffic.HeaderLen || *dsize > traffic.MaxDatagram):
			return usagef("-s %d out of range %d..%d", *dsize, traffic.HeaderLen, traffic.MaxDatagram)
		case mode == echoProbe && (*dsize < traffic.ProbeLen || *dsize > traffic.MaxDatagram):
			return usagef("-s %d out of range %d..%d", *dsize, traffic.ProbeLen, traffic.MaxDatagram)
		}

		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		ctx, cancel := context.WithTimeout(ctx, *wait)
		defer cancel()
		var r fmt.Stringer
		var err error
		switch mode {
		case tcpReceive:
			ln, lerr := net.Listen("tcp", *listen)
			if lerr != nil {
				return lerr
			}
			defer ln.Close()
			if *noSHA {
				r, err = traffic.ServeTCPNoHash(ctx, ln, *streams)
			} else {
				r, err = traffic.ServeTCP(ctx, ln, *streams)
			}
		case tcpSend:
			opts := traffic.SendOptions{Duration: *dur, Streams: *streams, Seed: *seed}
			if *dur == 0 {
				s := *size
				if s == "" {
					s = "100M"
				}
				if opts.Bytes, err = parseSize(s); err != nil {
					return usagef("-n: %v", err)
				}
			}
			r, err = traffic.SendTCP(ctx, *connect, opts)
		case udpSink:
			p, lerr := traffic.ListenUDP(*listen)
			if lerr != nil {
				return lerr
			}
			r, err = traffic.UDPSink(ctx, p)
		case udpGen:
			d := *dur
			if d == 0 {
				d = 10 * time.Second
			}
			r, err = traffic.UDPGenerate(ctx, *connect, traffic.GenOptions{Size: *dsize, Rate: *rate, Duration: d})
		case echoServe:
			p, lerr := traffic.ListenUDP(*listen)
			if lerr != nil {
				return lerr
			}
			r, err = traffic.EchoServe(ctx, p)
		case echoProbe:
			count := 1000
			if *size != "" {
				n, perr := strconv.Atoi(*size)
				if perr != nil || n < 1 {
					return usagef("-n: bad probe count %q", *size)
				}
				count = n
			}
			r, err = traffic.EchoProbe(ctx, *connect, traffic.ProbeOptions{Count: count, Interval: *interval, Size: *dsize})
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(r)
		}
		_, err = fmt.Fprintln(e.stdout, r)
		return err
	})
}

// parseSize reads a byte count with an optional K, M or G suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
