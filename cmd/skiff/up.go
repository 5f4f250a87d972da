// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/control/node"
)

func setupUp(fs *flag.FlagSet) func(e *env, args []string) error {
	file := fs.String("c", "", "the config `FILE` to run (required)")
	prof := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) to `FILE` while the node runs")
	return noArgs(func(e *env) error {
		if *file == "" {
			return usagef("missing -c FILE")
		}
		if *prof != "" {
			f, err := os.Create(*prof)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer func() {
				pprof.StopCPUProfile()
				f.Close()
			}()
		}
		c, err := conf.Load(*file)
		if err != nil {
			return err
		}
		log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: c.Log.Level}))
		n, err := node.New(c, node.Options{Logger: log, Version: versionString()})
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return n.Run(ctx)
	})
}
