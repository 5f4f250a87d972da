// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skiffnet/skiff/bench/traffic"
)

func setupTraffic(fs *flag.FlagSet) func(e *env, args []string) error {
	listen := fs.String("l", "", "serve: listen on `ADDR` (host:port), receive one transfer and report it")
	connect := fs.String("c", "", "send: connect to `ADDR` (host:port) and send -n bytes")
	size := fs.String("n", "100M", "send: how many `BYTES` to send (suffixes K, M, G: powers of 1024)")
	seed := fs.Uint64("seed", 1, "send: seed of the pseudo-random bytes")
	wait := fs.Duration("timeout", 5*time.Minute, "give up after this `DURATION` (send keeps retrying to connect until then)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	return noArgs(func(e *env) error {
		if (*listen == "") == (*connect == "") {
			return usagef("give exactly one of -l ADDR (receive) and -c ADDR (send)")
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		ctx, cancel := context.WithTimeout(ctx, *wait)
		defer cancel()
		var r traffic.Result
		var err error
		if *listen != "" {
			ln, lerr := net.Listen("tcp", *listen)
			if lerr != nil {
				return lerr
			}
			r, err = traffic.Serve(ctx, ln)
		} else {
			n, perr := parseSize(*size)
			if perr != nil {
				return usagef("-n: %v", perr)
			}
			r, err = traffic.Send(ctx, *connect, n, *seed)
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
