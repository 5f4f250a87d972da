// SPDX-License-Identifier: Apache-2.0

package fib

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync/atomic"
)

const (
	minEntries = 64
	maxEntries = 1 << 20
	bucketLen  = 8 // slots per bucket: the probe window

	groupBit = 1 << 40 // I/G bit: the lowest bit of the first octet

	// neverRefresh is the refresh interval when entries never expire: the
	// time then only orders evictions and reports ages.
	neverRefresh = 1 << 30 // ~1.07 s

	learnAttempts = 4 // Learn retries after losing a CompareAndSwap race

	cacheLine = 128 // covers adjacent-line prefetch on x86 and 128-byte lines on arm64
)

// bucket is one probe window. An empty slot has key 0; a used slot has
// key = MAC<<16 | node, and since the all-zero MAC is never learned a used
// key is never 0. The 8 keys fill one 64-byte line and the 8 times the next;
// buckets are 128 bytes and the array is a power of two of at least 1 KiB,
// which the Go allocator aligns to its size class, so a bucket never straddles
// more lines than it must.
type bucket struct {
	key  [bucketLen]atomic.Uint64
	seen [bucketLen]atomic.Int64
}

// Table maps MAC addresses to node ids. Create it with New; the zero Table is
// not usable.
type Table struct {
	// Read on every call, written only by New.
	buckets []bucket
	shift   uint   // 64 - log2(len(buckets))
	seed    uint64 // hash key
	timeout int64  // <= 0: never expire
	refresh int64  // minimum age before a refresh rewrites the time

	_ [cacheLine]byte // keep the counters off the read-mostly line

	learned atomic.Uint64
	moves   atomic.Uint64
	full    atomic.Uint64
	length  atomic.Int64
}

// Entry is one live table entry.
type Entry struct {
	MAC  [6]byte
	Node uint16
	Age  int64 // ns since the entry was last refreshed (within ~timeout/8)
}

// Stats are the table's counters.
type Stats struct {
	Learned uint64 // new entries, including relearned expired ones
	Moves   uint64 // live entries that moved to another node
	Full    uint64 // learns that evicted a live entry (probe window full) or gave up under contention
	Len     int    // occupied slots: live entries plus expired ones not yet reused
}

// New returns a table of at least size entries, rounded up to a power of two
// between 64 and 1<<20, whose entries expire timeout ns after they were last
// refreshed. A timeout <= 0 means entries never expire (they are still
// evicted, oldest first, when their bucket is full).
func New(size int, timeout int64) *Table {
	n := minEntries
	for n < size && n < maxEntries {
		n <<= 1
	}
	nb := n / bucketLen
	t := &Table{
		buckets: make([]bucket, nb),
		shift:   uint(64 - bits.TrailingZeros(uint(nb))),
		seed:    rand.Uint64(),
		timeout: timeout,
		refresh: neverRefresh,
	}
	if timeout > 0 {
		t.refresh = timeout >> 3
	}
	return t
}

// Cap returns the number of slots.
func (t *Table) Cap() int { return len(t.buckets) * bucketLen }

// mac48 returns the first 6 bytes of mac as a big-endian integer.
func mac48(mac []byte) uint64 {
	_ = mac[5]
	return uint64(mac[0])<<40 | uint64(mac[1])<<32 | uint64(mac[2])<<24 |
		uint64(mac[3])<<16 | uint64(mac[4])<<8 | uint64(mac[5])
}

// index returns the bucket of m: Fibonacci hashing of the seeded MAC, whose
// top bits depend on every input bit.
func (t *Table) index(m uint64) uint64 {
	return ((m ^ t.seed) * 0x9e3779b97f4a7c15) >> t.shift
}

func (t *Table) expired(seen, now int64) bool {
	return t.timeout > 0 && now-seen >= t.timeout
}

// Learn records that mac lives behind node, at time now. mac must hold at
// least 6 bytes (only the first 6 are used; shorter slices are ignored).
// Group (I/G bit set) and all-zero MACs are never learned. A live entry for
// another node is moved at once. Refreshing an unchanged entry writes nothing
// unless its time is at least 1/8 of the timeout old.
func (t *Table) Learn(mac []byte, node uint16, now int64) {
	if len(mac) < 6 {
		return
	}
	m := mac48(mac)
	if m == 0 || m&groupBit != 0 {
		return
	}
	b := &t.buckets[t.index(m)]
	key := m<<16 | uint64(node)
	for range learnAttempts {
		if t.learn(b, m, key, now) {
			return
		}
	}
	t.full.Add(1)
}

// learn makes one attempt; it returns false if it lost a race and should be
// retried.
func (t *Table) learn(b *bucket, m, key uint64, now int64) bool {
	// Fast path: the MAC is already here. Racing inserts can leave a MAC in
	// two slots; Lookup and this loop both use the first, and a move removes
	// the others.
	for i := range b.key {
		k := b.key[i].Load()
		if k>>16 != m {
			continue
		}
		seen := b.seen[i].Load()
		if k == key {
			if now-seen >= t.refresh {
				b.seen[i].Store(now)
				if t.expired(seen, now) {
					t.learned.Add(1)
				}
			}
			return true
		}
		if !b.key[i].CompareAndSwap(k, key) {
			return false
		}
		b.seen[i].Store(now)
		if t.expired(seen, now) {
			t.learned.Add(1)
		} else {
			t.moves.Add(1)
		}
		for j := i + 1; j < bucketLen; j++ {
			if d := b.key[j].Load(); d>>16 == m && b.key[j].CompareAndSwap(d, 0) {
				t.length.Add(-1)
			}
		}
		return true
	}

	// New entry: take the first empty or expired slot, else evict the
	// oldest.
	slot, old, evict := -1, uint64(0), true
	var oldestSeen int64
	for i := range b.key {
		k := b.key[i].Load()
		if k == 0 {
			slot, old, evict = i, 0, false
			break
		}
		if k>>16 == m {
			return false // inserted meanwhile
		}
		seen := b.seen[i].Load()
		if t.expired(seen, now) {
			slot, old, evict = i, k, false
			break
		}
		if slot < 0 || seen < oldestSeen {
			slot, old, oldestSeen = i, k, seen
		}
	}
	if !b.key[slot].CompareAndSwap(old, key) {
		return false
	}
	// A Lookup between the swap and this store sees the previous occupant's
	// time: it may miss, but it returns this MAC's own node.
	b.seen[slot].Store(now)
	t.learned.Add(1)
	if old == 0 {
		t.length.Add(1)
	} else if evict {
		t.full.Add(1)
	}
	return true
}

// Lookup returns the node mac (its first 6 bytes) was learned behind, or
// ok == false if it is unknown, expired, a group or zero MAC, or shorter
// than 6 bytes.
func (t *Table) Lookup(mac []byte, now int64) (node uint16, ok bool) {
	if len(mac) < 6 {
		return 0, false
	}
	m := mac48(mac)
	if m == 0 || m&groupBit != 0 {
		return 0, false
	}
	b := &t.buckets[t.index(m)]
	for i := range b.key {
		k := b.key[i].Load()
		if k>>16 != m {
			continue
		}
		if t.expired(b.seen[i].Load(), now) {
			continue
		}
		return uint16(k), true
	}
	return 0, false
}

// Forget removes every entry of node. It walks the whole table, so it is for
// the control path (a node went away), not for packets.
func (t *Table) Forget(node uint16) {
	for bi := range t.buckets {
		b := &t.buckets[bi]
		for i := range b.key {
			for {
				k := b.key[i].Load()
				if k == 0 || uint16(k) != node {
					break
				}
				if b.key[i].CompareAndSwap(k, 0) {
					t.length.Add(-1)
					break
				}
			}
		}
	}
}

// Entries returns the live entries, sorted by MAC. It walks the whole table
// and allocates; it is for status reporting.
func (t *Table) Entries(now int64) []Entry {
	var es []Entry
	for bi := range t.buckets {
		b := &t.buckets[bi]
		for i := range b.key {
			k := b.key[i].Load()
			if k == 0 {
				continue
			}
			seen := b.seen[i].Load()
			if t.expired(seen, now) {
				continue
			}
			e := Entry{Node: uint16(k), Age: max(now-seen, 0)}
			m := k >> 16
			e.MAC = [6]byte{byte(m >> 40), byte(m >> 32), byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b Entry) int {
		if c := slices.Compare(a.MAC[:], b.MAC[:]); c != 0 {
			return c
		}
		return int(min(max(a.Age-b.Age, -1), 1))
	})
	// A MAC caught in two slots by racing inserts is reported once, youngest.
	return slices.CompactFunc(es, func(a, b Entry) bool { return a.MAC == b.MAC })
}

// Stats returns the table's counters.
func (t *Table) Stats() Stats {
	return Stats{
		Learned: t.learned.Load(),
		Moves:   t.moves.Load(),
		Full:    t.full.Load(),
		Len:     int(max(t.length.Load(), 0)),
	}
}
