// SPDX-License-Identifier: Apache-2.0

package vppapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/adapter/socketclient"
	"go.fd.io/govpp/adapter/statsclient"
	govppapi "go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/core"
)

// Default socket paths of VPP's binary API and stats segment.
const (
	DefaultAPISocket   = socketclient.DefaultSocketName // /run/vpp/api.sock
	DefaultStatsSocket = statsclient.DefaultSocketName  // /run/vpp/stats.sock
)

// Conn is what this package needs of a govpp connection: requests and
// dumps (api.Connection) and a channel for the compatibility check.
// *core.Connection implements it.
type Conn interface {
	govppapi.Connection
	govppapi.ChannelProvider
}

// Stats reads VPP's interface counters; *core.StatsConnection implements
// it.
type Stats interface {
	GetInterfaceStats(*govppapi.InterfaceStats) error
}

var (
	_ Conn  = (*core.Connection)(nil)
	_ Stats = (*core.StatsConnection)(nil)
)

// Dial connects to VPP's binary API at the unix socket path (empty:
// DefaultAPISocket). Close the connection with Disconnect.
func Dial(path string) (*core.Connection, error) {
	quietGovpp()
	if path == "" {
		path = DefaultAPISocket
	}
	// govpp would wait 3 s for a missing socket to appear; say at once
	// what is wrong instead.
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("VPP API socket: %w (is VPP running, with socksvr { socket-name %s }?)", err, path)
	}
	conn, err := core.Connect(socketclient.NewVppClient(path))
	if err != nil {
		return nil, fmt.Errorf("VPP API socket %s: %w", path, err)
	}
	return conn, nil
}

// DialStats connects to VPP's stats segment at the unix socket path
// (empty: DefaultStatsSocket). Close it with Disconnect.
func DialStats(path string) (*core.StatsConnection, error) {
	quietGovpp()
	if path == "" {
		path = DefaultStatsSocket
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("VPP stats socket: %w (is VPP running, with statseg { socket-name %s }?)", err, path)
	}
	sc, err := core.ConnectStats(statsclient.NewStatsClient(path, statsclient.SetSocketRetryTimeout(time.Second)))
	if err != nil {
		return nil, fmt.Errorf("VPP stats socket %s: %w", path, err)
	}
	return sc, nil
}

// quietGovpp stops govpp logging to stderr on its own (logrus, level
// info): what goes wrong reaches skiff as errors.
var quietGovpp = sync.OnceFunc(func() {
	l := logrus.New()
	l.SetOutput(io.Discard)
	core.SetLogger(l)
	socketclient.SetLogger(l)
	statsclient.Log = l
})

// checkCompat fails unless the VPP behind conn knows every message in msgs
// with the CRC of the binapi skiff was built with.
func checkCompat(conn Conn, msgs []govppapi.Message) error {
	ch, err := conn.NewAPIChannel()
	if err != nil {
		return fmt.Errorf("VPP API channel: %w", err)
	}
	defer ch.Close()
	err = ch.CheckCompatiblity(msgs...)
	var ce *govppapi.CompatibilityError
	if errors.As(err, &ce) {
		bad := append([]string(nil), ce.IncompatibleMessages...)
		sort.Strings(bad)
		return fmt.Errorf("this VPP does not speak the binary API skiff was built for (govpp %s, VPP %s API): unknown or changed messages: %s",
			GovppVersion, BinapiVPPVersion, strings.Join(bad, ", "))
	}
	if err != nil {
		return fmt.Errorf("VPP API compatibility check: %w", err)
	}
	return nil
}

// The govpp module skiff is built with, and the VPP release its binapi was
// generated from (go.fd.io/govpp/binapi/*: "VPP: 25.10-release").
const (
	GovppVersion     = "v0.13.0"
	BinapiVPPVersion = "25.10"
)

// stream is a govpp dump: Recv returns io.EOF after the last entry.
type stream[T any] interface {
	Recv() (T, error)
	Close() error
}

// collect reads a dump to the end.
func collect[T any](s stream[T], err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	var out []T
	for {
		d, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			s.Close()
			return nil, err
		}
		out = append(out, d)
	}
}

// noIndex is VPP's ~0: "any" in dump filters, "none" in replies.
const noIndex = interface_types.InterfaceIndex(^uint32(0))

// rollbackTimeout bounds the undo requests after a failed attach; they run
// even when the caller's context is done.
const rollbackTimeout = 10 * time.Second

// undoCtx is a context for undoing changes: not cancelled with ctx.
func undoCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
}
