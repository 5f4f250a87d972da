// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/skiffnet/skiff/control/api"
)

// setupMeshView is skiff peers and skiff route: one view of a mesh node's
// status each, as a table or JSON.
func setupMeshView(print func(w io.Writer, m *api.MeshStatus)) func(fs *flag.FlagSet) func(e *env, args []string) error {
	return func(fs *flag.FlagSet) func(e *env, args []string) error {
		ask := statusFlags(fs, "print a JSON array, one object per node")
		return noArgs(func(e *env) error {
			st, asJSON, err := ask()
			switch {
			case err != nil:
				return err
			case st.Mesh == nil:
				return errors.New("this node is not in a mesh (its config has no mesh section): see skiff status")
			case asJSON:
				return printJSON(e.stdout, st.Mesh.Nodes)
			}
			print(e.stdout, st.Mesh)
			return nil
		})
	}
}

func ms(v float64) string {
	if v < 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func hopName(n api.MeshNode) string {
	if n.NextHop == 0 {
		return "-"
	}
	return n.NextHopName
}

// printPeers lists the other nodes: state, link, latency, loss.
func printPeers(w io.Writer, m *api.MeshStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\thostname\tstate\tlinked\tnext_hop\tlatency_ms\tloss")
	for _, n := range m.Nodes {
		linked := "no"
		if n.Linked {
			linked = "yes"
		}
		loss := "-"
		if n.Linked {
			loss = fmt.Sprintf("%.1f%%", 100*n.Loss)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Name, orDash(n.State), linked, hopName(n), ms(n.LatencyMs), loss)
	}
	tw.Flush()
}

// printRoutes is EasyTier's route table: per destination node, its next
// hop, latency and cost (hops), and the CIDRs it proxies.
func printRoutes(w io.Writer, m *api.MeshStatus) {
	fmt.Fprintf(w, "mesh mode %s, %d MAC addresses learned\n", m.Mode, m.FIBEntries)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\thostname\tproxy_cidrs\tnext_hop\tnext_hop_hostname\tlatency_ms\tcost\tsource")
	for _, n := range m.Nodes {
		hop, cost := "-", "-"
		if n.Reachable {
			hop = strconv.Itoa(int(n.NextHop))
			if n.Cost >= 0 {
				cost = strconv.Itoa(n.Cost)
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Name, orDash(strings.Join(n.ProxyCIDRs, ",")), hop, hopName(n), ms(n.LatencyMs), cost, orDash(n.Source))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
