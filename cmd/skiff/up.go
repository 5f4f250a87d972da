// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"flag"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/control/node"
)

func setupUp(fs *flag.FlagSet) func(e *env, args []string) error {
	file := fs.String("c", "", "the config `FILE` to run (required)")
	return noArgs(func(e *env) error {
		if *file == "" {
			return usagef("missing -c FILE")
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
