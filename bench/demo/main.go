// SPDX-License-Identifier: Apache-2.0

// Command demo is `make demo`: two sites in network namespaces joined by a
// veth underlay, a skiff node in each with AES-256-GCM, a ping across the
// tunnel, a 200 MB TCP transfer checked by SHA-256, and each node's
// counters. It removes everything it created when it ends, also when
// interrupted.
//
//	site-a: tap skf0 10.99.0.1/24, skiff --udp 198.18.0.1:4800--veth--198.18.0.2:4800-- skiff, tap skf0 10.99.0.2/24 :site-b
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skiffnet/skiff/bench/netns"
	"github.com/skiffnet/skiff/bench/traffic"
	"github.com/skiffnet/skiff/dataplane/wire"
)

func main() {
	skiff := flag.String("skiff", "bin/skiff", "the skiff `binary` to run")
	size := flag.String("n", "200M", "bytes to move over TCP")
	suite := flag.String("suite", "aes-256-gcm", "cipher suite")
	flag.Parse()
	if err := run(*skiff, *size, *suite); err != nil {
		if interrupted.Load() {
			select {} // the signal handler is cleaning up and exits
		}
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// interrupted is set when a signal ended the demo: whatever fails after it
// is the cleanup's doing, not worth reporting.
var interrupted atomic.Bool

const siteConfig = `version: 1
node: {name: %[1]s, id: %[2]d}
psk: {key: "%[3]s"}
suite: %[4]s
local: {type: tap, name: skf0, address: %[5]s, mtu: 1500}
underlay:
  listen: ["%[6]s"]
  mtu: 1500
  mtu_policy: clamp
peers:
  - name: %[7]s
    id: %[8]d
    paths: [{remote: "%[9]s"}]
control: {socket: %[10]s}
`

func run(skiff, size, suite string) error {
	skiff, err := filepath.Abs(skiff)
	if err != nil {
		return err
	}
	if _, err := os.Stat(skiff); err != nil {
		return fmt.Errorf("no skiff binary (run make build): %w", err)
	}
	netns.Clean()
	lab, err := netns.New()
	if err != nil {
		return err
	}
	// Remove everything on the way out, and on SIGINT/SIGTERM.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		interrupted.Store(true)
		fmt.Fprintf(os.Stderr, "\ndemo: %v: cleaning up\n", s)
		lab.Close()
		fmt.Fprintln(os.Stderr, "cleaned up: namespaces, devices and processes removed")
		os.Exit(130)
	}()
	defer func() {
		if interrupted.Load() {
			return // the signal handler cleans up
		}
		lab.Close()
		fmt.Println("\ncleaned up: namespaces, devices and processes removed")
	}()
	dir, err := os.MkdirTemp("", "skiff-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	step("topology: namespaces %s-site-a and %s-site-b, veth underlay 198.18.0.1/30 <-> 198.18.0.2/30", lab.Prefix, lab.Prefix)
	a, err := lab.NS("site-a")
	if err != nil {
		return err
	}
	b, err := lab.NS("site-b")
	if err != nil {
		return err
	}
	if err := lab.Link(a, "ul0", b, "ul0"); err != nil {
		return err
	}
	if err := a.Addr("ul0", "198.18.0.1/30"); err != nil {
		return err
	}
	if err := b.Addr("ul0", "198.18.0.2/30"); err != nil {
		return err
	}

	psk, err := wire.GeneratePSK()
	if err != nil {
		return err
	}
	sockA, sockB := filepath.Join(dir, "site-a.sock"), filepath.Join(dir, "site-b.sock")
	cfgA := filepath.Join(dir, "site-a.yaml")
	cfgB := filepath.Join(dir, "site-b.yaml")
	os.WriteFile(cfgA, fmt.Appendf(nil, siteConfig, "site-a", 1, psk, suite, "10.99.0.1/24", "198.18.0.1:4800", "site-b", 2, "198.18.0.2:4800", sockA), 0o600)
	os.WriteFile(cfgB, fmt.Appendf(nil, siteConfig, "site-b", 2, psk, suite, "10.99.0.2/24", "198.18.0.2:4800", "site-a", 1, "198.18.0.1:4800", sockB), 0o600)

	step("starting skiff up in both sites (%s, tap skf0, MSS clamped to fit the 1500-byte underlay)", suite)
	logA, _ := os.Create(filepath.Join(dir, "site-a.log"))
	logB, _ := os.Create(filepath.Join(dir, "site-b.log"))
	pa, err := a.Start(logA, skiff, "up", "-c", cfgA)
	if err != nil {
		return err
	}
	pb, err := b.Start(logB, skiff, "up", "-c", cfgB)
	if err != nil {
		return err
	}
	start := time.Now()
	for {
		if _, err := a.Run("ping", "-c", "1", "-W", "1", "10.99.0.2"); err == nil {
			break
		}
		for _, p := range []*netns.Proc{pa, pb} {
			select {
			case <-p.Done():
				return fmt.Errorf("%s exited:\n%s", p.Name, p.Output())
			default:
			}
		}
		if time.Since(start) > 15*time.Second {
			return fmt.Errorf("tunnel not up after 15s\nsite-a:\n%s\nsite-b:\n%s", pa.Output(), pb.Output())
		}
	}
	fmt.Printf("tunnel up after %v\n", time.Since(start).Round(time.Millisecond))

	step("ping 10.99.0.2 from site-a, through the tunnel")
	out, err := a.Run("ping", "-c", "5", "-i", "0.2", "10.99.0.2")
	fmt.Print(indent(lastLines(string(out), 2)))
	if err != nil {
		return err
	}

	step("moving %s over TCP from site-a to site-b with skiff traffic", size)
	srv, err := b.Start(nil, skiff, "traffic", "-l", "10.99.0.2:5201", "-json")
	if err != nil {
		return err
	}
	out, err = a.Run(skiff, "traffic", "-c", "10.99.0.2:5201", "-n", size, "-json")
	if err != nil {
		return fmt.Errorf("send: %w\n%s", err, out)
	}
	if err := srv.Wait(time.Minute); err != nil {
		return fmt.Errorf("receive: %w\n%s", err, srv.Output())
	}
	var sent, recv traffic.Result
	if err := json.Unmarshal(out, &sent); err != nil {
		return fmt.Errorf("send output: %w: %s", err, out)
	}
	if err := json.Unmarshal([]byte(srv.Output()), &recv); err != nil {
		return fmt.Errorf("receive output: %w: %s", err, srv.Output())
	}
	fmt.Printf("  sent     %v\n  received %v\n", sent, recv)
	if sent.SHA256 != recv.SHA256 || sent.Bytes != recv.Bytes {
		return fmt.Errorf("the received bytes differ from the sent ones")
	}
	fmt.Printf("  SHA-256 matches; throughput %.2f Gbit/s\n", recv.Gbps)

	for _, s := range []struct {
		ns   *netns.NS
		sock string
	}{{a, sockA}, {b, sockB}} {
		step("skiff status of %s", strings.TrimPrefix(s.ns.Name, lab.Prefix+"-"))
		out, err := s.ns.Run(skiff, "status", "-s", s.sock)
		fmt.Print(indent(string(out)))
		if err != nil {
			return err
		}
	}
	step("stopping both nodes (SIGTERM)")
	if err := pa.Stop(5 * time.Second); err != nil {
		return fmt.Errorf("site-a: %w\n%s", err, pa.Output())
	}
	if err := pb.Stop(5 * time.Second); err != nil {
		return fmt.Errorf("site-b: %w\n%s", err, pb.Output())
	}
	return nil
}

func step(format string, args ...any) {
	fmt.Printf("\n== "+format+"\n", args...)
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
