// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/control/api"
)

func setupStatus(fs *flag.FlagSet) func(e *env, args []string) error {
	ask := statusFlags(fs, "print the status as JSON")
	return noArgs(func(e *env) error {
		st, asJSON, err := ask()
		switch {
		case err != nil:
			return err
		case asJSON:
			return printJSON(e.stdout, st)
		}
		printStatus(e.stdout, st)
		return nil
	})
}

// statusFlags declares -c, -s and -json (described by jsonUsage) and
// returns what asks the node they name for its status, and reports -json.
func statusFlags(fs *flag.FlagSet, jsonUsage string) func() (*api.Status, bool, error) {
	file := fs.String("c", "", "find the node's control socket in the config `FILE`")
	sock := fs.String("s", "", "the node's control `SOCKET` (default: the only socket in "+api.DefaultDir+")")
	asJSON := fs.Bool("json", false, jsonUsage)
	return func() (*api.Status, bool, error) {
		path, err := socketPath(*file, *sock)
		if err != nil {
			return nil, false, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := api.Ask(ctx, path, api.Request{Op: "status"})
		if err != nil {
			return nil, false, err
		}
		return r.Status, *asJSON, nil
	}
}

// socketPath picks the control socket: -s, or the config's, or the only
// one in the default directory.
func socketPath(file, sock string) (string, error) {
	switch {
	case sock != "" && file != "":
		return "", usagef("-c and -s are mutually exclusive")
	case sock != "":
		return sock, nil
	case file != "":
		c, err := conf.Load(file)
		if err != nil {
			return "", err
		}
		return c.Control.Socket, nil
	}
	socks, _ := filepath.Glob(filepath.Join(api.DefaultDir, "*.sock"))
	switch len(socks) {
	case 0:
		return "", errors.New("no skiff node is running here (no socket in " + api.DefaultDir + "); use -s SOCKET or -c FILE")
	case 1:
		return socks[0], nil
	}
	return "", fmt.Errorf("several nodes run here (%s): pick one with -s SOCKET or -c FILE", strings.Join(socks, ", "))
}

func printStatus(w io.Writer, s *api.Status) {
	n := s.Node
	lz4 := "off"
	if n.LZ4 {
		lz4 = "on"
	}
	fmt.Fprintf(w, "node %s (id %d), skiff %s, up %v\n", n.Name, n.ID, n.Version, n.Uptime)
	mss := "off"
	if n.MSS[0] != 0 {
		mss = fmt.Sprintf("%d/%d", n.MSS[0], n.MSS[1])
	}
	fmt.Fprintf(w, "suite %s, lz4 %s, mtu policy %s, %d frame bytes per datagram, mss clamp %s\n", n.Suite, lz4, n.MTUPolicy, n.PieceSize, mss)
	fmt.Fprintf(w, "local %s %s", s.Local.Type, s.Local.Name)
	for _, u := range s.Underlay {
		fmt.Fprintf(w, "; underlay %s %s", u.Type, u.Name)
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tID\tSTATE\tPATH\tSESSION\tHANDSHAKES\tUP FOR")
	for _, p := range s.Peers {
		path := "-"
		if p.Path < len(p.Paths) {
			path = fmt.Sprintf("%s (%d of %d)", p.Paths[p.Path].Remote, p.Path+1, len(p.Paths))
		}
		sess := "-"
		if p.Session != nil {
			role := "responder"
			if p.Session.Initiator {
				role = "initiator"
			}
			sess = fmt.Sprintf("age %v, %s, %d sent", p.Session.Age, role, p.Session.Sent)
		}
		up := "-"
		if p.State == "up" {
			up = p.UpFor.String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\n", p.Name, p.Node, p.State, path, sess, p.Counters.Handshakes, up)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tREMOTE\tLOCAL\tSTATE\tRTT\tLAST PONG\tPINGS\tPONGS")
	for _, p := range s.Peers {
		for i, pa := range p.Paths {
			mark := " "
			if i == p.Path {
				mark = "*"
			}
			fmt.Fprintf(tw, "%s%s #%d\t%s\t%s\t%s\t%v\t%v\t%d\t%d\n", mark, p.Name, i+1, pa.Remote, pa.Local, pa.State, pa.RTT, pa.LastPong, pa.Pings, pa.Pongs)
		}
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TRAFFIC\tFRAMES IN\tBYTES IN\tDATAGRAMS OUT\tBYTES OUT\tLZ4\tFRAGMENTS\tDROPS\t")
	fmt.Fprintf(tw, "tx (local to peer)\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", s.Tx.Packets, s.Tx.Bytes, s.Tx.Out, s.Tx.OutBytes, s.Tx.LZ4, s.Tx.Fragments, s.Tx.DropsTotal)
	fmt.Fprintf(tw, "rx (peer to local)\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", s.Rx.Packets, s.Rx.Bytes, s.Rx.Out, s.Rx.OutBytes, s.Rx.LZ4, s.Rx.Fragments, s.Rx.DropsTotal)
	tw.Flush()
	if m := s.Mesh; m != nil {
		fmt.Fprintf(w, "\nmesh %s: %d frames flooded, %d datagrams relayed, %d MAC addresses learned (skiff peers, skiff route)\n",
			m.Mode, s.Tx.Flooded, s.Rx.Relayed, m.FIBEntries)
	}

	printXDP(w, append([]api.PortInfo{s.Local}, s.Underlay...))
	printMemif(w, s.Local)

	drops := map[string]uint64{}
	for k, v := range s.Tx.Drops {
		drops["tx "+k] = v
	}
	for k, v := range s.Rx.Drops {
		drops["rx "+k] = v
	}
	for k, v := range s.Control {
		drops["control "+k] = v
	}
	fmt.Fprintln(w)
	if len(drops) == 0 {
		fmt.Fprintln(w, "drops: none")
		return
	}
	keys := make([]string, 0, len(drops))
	for k := range drops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DROPS BY REASON\tCOUNT")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%d\n", k, drops[k])
	}
	tw.Flush()
}

// printMemif prints a memif port's connection and counters.
func printMemif(w io.Writer, p api.PortInfo) {
	st, ok := p.Stats.(map[string]any)
	if !ok || p.Type != "memif" {
		return
	}
	num := func(k string) string {
		if v, ok := st[k].(float64); ok {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return "-"
	}
	state := "down"
	if c, _ := st["connected"].(bool); c {
		state = fmt.Sprintf("connected to %q, %s rx / %s tx queue(s), %s slots per ring, %s region(s)",
			st["peer"], num("rx_queues"), num("tx_queues"), num("ring_size"), num("regions"))
	} else if e, _ := st["last_error"].(string); e != "" {
		state = "down: " + e
	}
	fmt.Fprintf(w, "\nmemif %s (%v, %v mode): %s\n", p.Name, st["role"], st["mode"], state)
	fmt.Fprintf(w, "  rx %s frames %s bytes, tx %s frames %s bytes; connects %s, disconnects %s, refused %s\n",
		num("rx_frames"), num("rx_bytes"), num("tx_frames"), num("tx_bytes"), num("connects"), num("disconnects"), num("handshake_errors"))
	fmt.Fprintf(w, "  drops: tx ring full %s, tx while down %s, tx too long %s, rx too long %s, bad descriptors rx %s tx %s, bad ring indices %s, shared memory faults %s\n",
		num("tx_full"), num("tx_down"), num("tx_too_long"), num("rx_too_long"), num("rx_bad_desc"), num("tx_bad_desc"), num("bad_ring"), num("mem_faults"))
}

// printXDP prints, for each AF_XDP port, how its sockets are bound, its
// counters and its XDP program's verdicts by reason.
func printXDP(w io.Writer, ports []api.PortInfo) {
	for _, p := range ports {
		st, ok := p.Stats.(map[string]any)
		if !ok || p.Type != "afxdp" {
			continue
		}
		num := func(k string) string {
			if v, ok := st[k].(float64); ok {
				return strconv.FormatFloat(v, 'f', 0, 64)
			}
			return "-"
		}
		fmt.Fprintf(w, "\nafxdp %s: %v, %s queue(s); rx %s frames, tx %s frames, tx ring full %s, bad descriptors %s\n",
			p.Name, st["Mode"], num("Queues"), num("RxFrames"), num("TxFrames"), num("TxFull"), num("BadDescs"))
		xdp, _ := st["XDP"].(map[string]any)
		keys := make([]string, 0, len(xdp))
		for k := range xdp {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "XDP VERDICT/REASON\tFRAMES")
		for _, k := range keys {
			v, _ := xdp[k].(float64)
			fmt.Fprintf(tw, "%s\t%s\n", k, strconv.FormatFloat(v, 'f', 0, 64))
		}
		tw.Flush()
	}
}
