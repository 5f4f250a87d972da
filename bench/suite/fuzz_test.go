// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"strings"
	"testing"
)

// FuzzParseRow: a --row SPEC either fails with an error naming the row,
// or parses to a row whose Spec parses back to it.
func FuzzParseRow(f *testing.F) {
	for _, s := range []string{
		"name=x", "kind=veth,underlay_mtu=9000", "kind=testpmd", "codec=vxlan,policy=fragment",
		"name=p,suite=none,lz4=on,policy=fragment,local=afpacket,local_mtu=9000,underlay_mtu=9100,codec=skiff,underlay=udp",
		"suite=none,local=memif,underlay=afxdp,lz4=on", "local=memif,underlay_gso=off", "local_mtu=9000,underlay_mtu=576",
		" suite = chacha20-poly1305 , lz4=off ", "name=a=b,,", "name", "kind=wireguard-go,lz4=on", "local_mtu=99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := ParseRow(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "row ") {
				t.Fatalf("ParseRow(%q): error %q does not name the row", spec, err)
			}
			return
		}
		again, err := ParseRow(got.Spec())
		if err == nil && got.LocalMTU == 0 && again.LocalMTU == got.InnerMTU() {
			again.LocalMTU = 0 // Spec spells out the automatic MTU
		}
		if err != nil || again != got {
			t.Fatalf("ParseRow(%q) = %+v; its Spec %q parses to %+v, %v", spec, got, got.Spec(), again, err)
		}
	})
}
