// SPDX-License-Identifier: Apache-2.0

package impair

import "fmt"

// DirStats are the counters of one direction.
type DirStats struct {
	Received  uint64 `json:"received"`  // datagrams that arrived
	Forwarded uint64 `json:"forwarded"` // datagrams sent on, duplicates included
	Dropped   uint64 `json:"dropped"`   // the sum of the causes below

	DropRandom    uint64 `json:"drop_random"`     // by the Drop rate
	DropQueueFull uint64 `json:"drop_queue_full"` // MaxQueue datagrams were waiting already
	DropNoClient  uint64 `json:"drop_no_client"`  // to-target: MaxClients clients exist, or no upstream socket could be opened
	DropSendError uint64 `json:"drop_send_error"` // the write failed (e.g. Target's port is closed, or the client expired)

	Duplicated uint64 `json:"duplicated"` // datagrams sent twice
	Reordered  uint64 `json:"reordered"`  // datagrams held back an extra ReorderBy
	Delayed    uint64 `json:"delayed"`    // datagrams held for a delay above zero
	Queued     int    `json:"queued"`     // datagrams waiting now
}

func (s DirStats) String() string {
	return fmt.Sprintf("received %d forwarded %d dropped %d (random %d, queue-full %d, no-client %d, send-error %d) duplicated %d reordered %d delayed %d queued %d",
		s.Received, s.Forwarded, s.Dropped, s.DropRandom, s.DropQueueFull, s.DropNoClient, s.DropSendError,
		s.Duplicated, s.Reordered, s.Delayed, s.Queued)
}

// Stats are a relay's counters.
type Stats struct {
	ToTarget       DirStats `json:"to_target"`
	FromTarget     DirStats `json:"from_target"`
	Clients        int      `json:"clients"`         // client mappings now
	ClientsOpened  uint64   `json:"clients_opened"`  // client mappings made
	ClientsExpired uint64   `json:"clients_expired"` // client mappings idle for IdleTimeout, removed
}

// String is the stats on one line.
func (s Stats) String() string {
	return fmt.Sprintf("to-target: %v; from-target: %v; clients %d (opened %d, expired %d)",
		s.ToTarget, s.FromTarget, s.Clients, s.ClientsOpened, s.ClientsExpired)
}
