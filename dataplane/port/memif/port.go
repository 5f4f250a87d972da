// SPDX-License-Identifier: Apache-2.0

// Package memif is the local port on a memif interface (vpp/memif): the
// frames come from and go to a VPP router (or any memif peer, such as
// DPDK's memif driver) through shared memory. The port stays open while
// the peer comes and goes: reads wait for a connection, writes while
// disconnected are dropped and counted.
package memif

import (
	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/vpp/memif"
)

// Port is a memif interface as a port; with several queue pairs, Queues
// gives one port per queue.
type Port struct {
	ifc    *memif.Interface
	q      int
	queues []port.Port
}

// Open opens the memif interface cfg describes.
func Open(cfg memif.Config) (*Port, error) {
	ifc, err := memif.New(cfg)
	if err != nil {
		return nil, err
	}
	p := &Port{ifc: ifc}
	if ifc.Queues() > 1 {
		for q := range ifc.Queues() {
			p.queues = append(p.queues, &Port{ifc: ifc, q: q})
		}
	}
	return p, nil
}

// ReadBatch waits for frames on the port's queue.
func (p *Port) ReadBatch(pkts []*buf.Packet) (int, error) { return p.ifc.Recv(p.q, pkts) }

// WriteBatch sends frames on the port's queue; frames without room or
// while disconnected are dropped and counted (see memif.Stats).
func (p *Port) WriteBatch(pkts []*buf.Packet) (int, error) { return p.ifc.Send(p.q, pkts) }

// BatchSize is the port's batch size.
func (p *Port) BatchSize() int { return port.DefaultBatchSize }

// Close closes the interface (all its queues).
func (p *Port) Close() error { return p.ifc.Close() }

// Queues returns a port per queue pair, every one of them transmitting;
// with one queue pair the port has no Queues (nil).
func (p *Port) Queues() ([]port.Port, int) { return p.queues, len(p.queues) }

// Interface is the memif interface under the port.
func (p *Port) Interface() *memif.Interface { return p.ifc }

// Name describes the port for skiff status: socket and id.
func (p *Port) Name() string {
	c := p.ifc.Config()
	return c.Socket + " id " + itoa(c.ID)
}

// Stats is a snapshot of the interface's state and counters.
func (p *Port) Stats() memif.Info { return p.ifc.Info() }

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
