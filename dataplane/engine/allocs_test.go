// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"testing"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/pipeline"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/porttest"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// The workers' loop bodies allocate nothing per batch: a batch of mixed
// frames goes from site A's LAN port through A's tx worker, the underlay,
// B's rx worker to B's LAN port, with every stage on.
func TestEngineLoopAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	lanA, locA := porttest.NewPair(64, 256)
	lanB, locB := porttest.NewPair(64, 256)
	ulA, ulB := porttest.NewPair(64, 256)
	sa, sb := handshake(t, wire.SuiteAES256GCM)
	snap := func(node, peer uint16, s *wire.Session, ep *porttest.Port, vlan int) *pipeline.Snapshot {
		return &pipeline.Snapshot{
			Node: node, VLAN: vlanMap(t, vlan), MSS: stage.MSS{V4: 1360, V6: 1340}, LZ4: true,
			PieceSize: 1428, Fragment: true,
			Route:    pipeline.Route{Node: peer, Session: s, Endpoint: ep.Addr},
			Sessions: map[uint32]*wire.Session{s.LocalID: s},
		}
	}
	a := New(Config{Local: locA, Underlays: []port.Port{ulA}}, snap(1, 2, sa, ulB, vlanA))
	b := New(Config{Local: locB, Underlays: []port.Port{ulB}}, snap(2, 1, sb, ulA, vlanB))

	pool := buf.Default
	frames := buf.NewBatch(pool, 16)
	scratch := make([]byte, 9000)
	for i := range frames.Pkts {
		v := 0
		if tagged(uint64(i)) {
			v = vlanA
		}
		frames.Pkts[i].SetData(makeFrame(scratch, uint64(i), v))
	}
	inA := buf.NewBatch(pool, 64)
	outA := buf.NewBatch(pool, 64+stage.MaxPieces)
	inB := buf.NewBatch(pool, 64)
	outB := buf.NewBatch(pool, 64)
	got := buf.NewBatch(pool, 64)
	fwdB := buf.NewBatch(pool, 64)
	tx := pipeline.NewTx(&a.tx)
	rx := pipeline.NewRx(pipeline.RxConfig{Stats: &b.rx, Pool: pool, Now: a.cfg.Now})
	defer rx.Close()

	step := func() {
		lanA.WriteBatch(frames.Pkts)
		n, _ := locA.ReadBatch(inA.Pkts)
		a.txBatch(tx, inA.Pkts[:n], outA, 0)
		delivered := 0
		for delivered < len(frames.Pkts) {
			n, _ = ulB.ReadBatch(inB.Pkts)
			b.rxBatch(rx, inB.Pkts[:n], outB, fwdB, 0)
			k, _ := lanB.ReadBatch(got.Pkts)
			delivered += k
		}
	}
	step()
	if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
		t.Fatalf("allocs per batch = %v", allocs)
	}
	if _, rc := b.Stats(); rc.Dropped() != 0 || rc.Out == 0 {
		t.Fatalf("rx counters %+v", rc)
	}
}
