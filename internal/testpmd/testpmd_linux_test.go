// SPDX-License-Identifier: Apache-2.0

//go:build linux

package testpmd

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestArgs(t *testing.T) {
	o := Options{Role: "client", Socket: "/tmp/x/memif.sock", ID: 7, Secret: "s3", Log2Ring: 11, BufSize: 4096,
		ZeroCopy: true, MAC: "02:00:00:00:00:09", Forward: "txonly", Burst: 64, TxPkts: []int{60, 4},
		EthPeer: "02:00:00:00:00:0a", Lcores: "0@1,1@0", EAL: []string{"--log-level=pmd.net.memif:debug"}, Extra: []string{"--rxd=512"}}
	if err := o.fill(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(o.args("skiff-1"), " ")
	want := "--no-huge -m 64 --no-pci --no-telemetry --file-prefix=skiff-1 --lcores=0@1,1@0 " +
		"--vdev=net_memif0,role=client,id=7,socket=/tmp/x/memif.sock,socket-abstract=no,secret=s3,rsize=11,bsize=4096,zero-copy=yes,mac=02:00:00:00:00:09 " +
		"--single-file-segments --log-level=pmd.net.memif:debug -- -i --total-num-mbufs=8192 --forward-mode=txonly " +
		"--burst=64 --txpkts=60,4 --eth-peer=0,02:00:00:00:00:0a --rxd=512"
	if got != want {
		t.Errorf("args\n got %s\nwant %s", got, want)
	}

	var d Options
	if err := d.fill(); err != nil {
		t.Fatal(err)
	}
	if d.Role != "server" || !d.Abstract || !strings.HasPrefix(d.Socket, "skiff-testpmd-") || d.Forward != "io" {
		t.Errorf("defaults: %+v", d)
	}
	if srv, cli := defaultLcores("server"), defaultLcores("client"); srv == cli && srv != "0@0,1@0" {
		t.Errorf("server and client lcores both %s", srv)
	}

	for _, bad := range []Options{{Role: "master"}, {Socket: "a,b"}, {Secret: strings.Repeat("x", 25)}, {ZeroCopy: true}, {Log2Ring: 15}, {Forward: "io --x"}} {
		if err := bad.fill(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// A testpmd server and a testpmd client, both macswap, the client sending
// one burst first: the 32 frames then go back and forth until both stop.
// Over an abstract socket and over a socket file.
func TestServerClient(t *testing.T) {
	Need(t)
	for _, abstract := range []bool{true, false} {
		name := map[bool]string{true: "abstract", false: "file"}[abstract]
		t.Run(name, func(t *testing.T) {
			sock := "skiff-testpmd-test-" + randHex(4)
			if !abstract {
				sock = filepath.Join(t.TempDir(), "memif.sock")
			}
			t0 := time.Now()
			srv := Start(t, Options{Name: "server", Role: "server", Socket: sock, Abstract: abstract, Forward: "macswap"})
			tSrv := time.Since(t0)
			if !abstract {
				if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != fs.ModeSocket {
					t.Fatalf("server socket file: %v %v", fi, err)
				}
			}
			t1 := time.Now()
			cli := Start(t, Options{Name: "client", Role: "client", Socket: sock, Abstract: abstract, Forward: "macswap", TxFirst: true})
			tCli := time.Since(t1)
			if err := srv.WaitLinkUp(5 * time.Second); err != nil {
				t.Fatal(err)
			}
			t.Logf("server at its prompt after %v; client at its prompt, link up and forwarding after %v", tSrv.Round(time.Millisecond), tCli.Round(time.Millisecond))

			time.Sleep(200 * time.Millisecond)
			for _, p := range []*Proc{srv, cli} {
				s, err := p.Stats()
				if err != nil {
					t.Fatal(err)
				}
				rss, _ := p.RSS()
				t.Logf("%s: %d MB RSS, MAC %s, %+v", p.name, rss>>20, p.MAC(), s)
				// (Packets and bytes are read apart while the lcore
				// forwards: only stopped counters add up exactly.)
				if !s.LinkUp || s.RxPackets == 0 || s.TxPackets == 0 || s.RxBytes == 0 || s.TxBytes == 0 {
					t.Errorf("%s: no traffic both ways while running: %+v", p.name, s)
				}
				if len(p.MAC()) != 6 {
					t.Errorf("%s: MAC %v", p.name, p.MAC())
				}
			}

			// Stop forwarding on both (client first), then read both
			// while still connected: the counters no longer move.
			if _, err := cli.StopForwarding(); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.StopForwarding(); err != nil {
				t.Fatal(err)
			}
			c, err := cli.Stats()
			if err != nil {
				t.Fatal(err)
			}
			s, err := srv.Stats()
			if err != nil {
				t.Fatal(err)
			}
			// 32 frames circulate: each is in one of the two rings or was
			// dropped, and testpmd's forward counters agree with the NIC's.
			inFlight := (c.TxPackets - s.RxPackets) + (s.TxPackets - c.RxPackets)
			if dropped := c.Fwd.TxDropped + s.Fwd.TxDropped; inFlight+dropped != 32 || dropped != 0 {
				t.Errorf("%d frames in the rings and %d dropped, want 32 and 0\nclient %+v\nserver %+v", inFlight, dropped, c, s)
			}
			for _, x := range []Stats{c, s} {
				if x.Fwd.RxPackets != x.RxPackets || x.Fwd.TxPackets != x.TxPackets || x.RxMissed+x.RxErrors+x.TxErrors != 0 {
					t.Errorf("forward and NIC counters differ: %+v", x)
				}
				if x.RxBytes != 64*x.RxPackets || x.TxBytes != 64*x.TxPackets {
					t.Errorf("not all frames 64 bytes (tx_first's default): %+v", x)
				}
			}

			cFinal, err := cli.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if cFinal != c {
				t.Errorf("client Stop: %+v, want %+v", cFinal, c)
			}
			// The client is gone: the server's link goes down. (Had its
			// forwarding lcore still been polling, the server could have
			// segfaulted now, a DPDK bug: see Stop. It was stopped, so this
			// is rare; it is logged, not failed.)
			if err := waitFor(5*time.Second, func() bool { up, err := srv.LinkUp(); return !up || err != nil }); err != nil {
				t.Errorf("server link still up after the client quit")
			}
			if _, err := srv.Stop(); errors.Is(err, ErrExited) {
				t.Logf("server exited when the client left: %v", err)
			} else if err != nil {
				t.Fatal(err)
			}

			for _, p := range []*Proc{srv, cli} {
				for _, dir := range []string{p.RuntimeDir(), p.runDir} {
					if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s: %s left behind (%v)", p.name, dir, err)
					}
				}
				// EAL's default runtime directories, as root and not.
				for _, dir := range []string{"/var/run/dpdk/" + p.Prefix(), "/tmp/dpdk/" + p.Prefix()} {
					if _, err := os.Stat(dir); err == nil {
						t.Errorf("%s: %s created", p.name, dir)
					}
				}
				select {
				case <-p.exited:
				default:
					t.Errorf("%s: pid %d still running", p.name, p.Pid())
				}
			}
			if !abstract {
				if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("socket file %s left behind (%v)", sock, err)
				}
			}
		})
	}
}

func waitFor(timeout time.Duration, cond func() bool) error {
	for end := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			return errors.New("timeout")
		}
	}
	return nil
}
