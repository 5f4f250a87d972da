// SPDX-License-Identifier: Apache-2.0

package fib

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// mac returns a locally administered unicast MAC numbered i.
func mac(i int) []byte {
	return []byte{0x02, 0x00, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

// colliding returns n MACs that hash to the same bucket of tab.
func colliding(tab *Table, n int) [][]byte {
	var out [][]byte
	want := tab.index(mac48(mac(0)))
	for i := 0; len(out) < n; i++ {
		if m := mac(i); tab.index(mac48(m)) == want {
			out = append(out, m)
		}
	}
	return out
}

func wantLookup(t *testing.T, tab *Table, m []byte, now int64, wantNode uint16, wantOK bool) {
	t.Helper()
	node, ok := tab.Lookup(m, now)
	if ok != wantOK || (ok && node != wantNode) {
		t.Fatalf("Lookup(% x, %d) = %d, %v; want %d, %v", m, now, node, ok, wantNode, wantOK)
	}
}

func wantStats(t *testing.T, tab *Table, want Stats) {
	t.Helper()
	if got := tab.Stats(); got != want {
		t.Fatalf("Stats() = %+v; want %+v", got, want)
	}
}

func TestNewSize(t *testing.T) {
	tests := []struct{ size, want int }{
		{-1, 64}, {0, 64}, {1, 64}, {64, 64}, {65, 128}, {1000, 1024},
		{1 << 20, 1 << 20}, {1<<20 + 1, 1 << 20}, {1 << 40, 1 << 20},
	}
	for _, tt := range tests {
		if got := New(tt.size, 0).Cap(); got != tt.want {
			t.Errorf("New(%d).Cap() = %d; want %d", tt.size, got, tt.want)
		}
	}
}

func TestLearnLookup(t *testing.T) {
	tab := New(64, 1000)
	wantLookup(t, tab, mac(1), 0, 0, false)
	tab.Learn(mac(1), 7, 0)
	tab.Learn(mac(2), 0, 0)                                          // node 0 is a node
	tab.Learn([]byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}, 0xffff, 0) // largest key
	tab.Learn([]byte{0x02, 0, 0, 0, 0, 3, 0xaa, 0xbb}, 3, 0)         // long slice: first 6 bytes
	wantLookup(t, tab, mac(1), 1, 7, true)
	wantLookup(t, tab, mac(2), 1, 0, true)
	wantLookup(t, tab, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}, 1, 0xffff, true)
	wantLookup(t, tab, mac(3), 1, 3, true)
	wantLookup(t, tab, []byte{0x02, 0, 0, 0, 0, 3, 0xcc}, 1, 3, true)
	wantLookup(t, tab, mac(4), 1, 0, false)
	wantLookup(t, tab, mac(3)[:5], 1, 0, false)
	wantStats(t, tab, Stats{Learned: 4, Len: 4})
}

func TestExpiry(t *testing.T) {
	tab := New(64, 1000)
	tab.Learn(mac(1), 1, 0)
	wantLookup(t, tab, mac(1), 999, 1, true)
	wantLookup(t, tab, mac(1), 1000, 0, false)
	if es := tab.Entries(1000); len(es) != 0 {
		t.Fatalf("Entries after expiry = %v", es)
	}
	tab.Learn(mac(1), 1, 1000) // relearned
	wantLookup(t, tab, mac(1), 1999, 1, true)
	wantStats(t, tab, Stats{Learned: 2, Len: 1})

	never := New(64, 0)
	never.Learn(mac(1), 1, 0)
	wantLookup(t, never, mac(1), 1<<62, 1, true)
	never = New(64, -5)
	never.Learn(mac(1), 1, 0)
	wantLookup(t, never, mac(1), 1<<62, 1, true)
}

func TestRefresh(t *testing.T) {
	tab := New(64, 800) // refresh interval 100
	tab.Learn(mac(1), 1, 0)
	tab.Learn(mac(1), 1, 99) // too young: time not rewritten
	if es := tab.Entries(99); len(es) != 1 || es[0].Age != 99 {
		t.Fatalf("Entries(99) = %v; want age 99", es)
	}
	wantLookup(t, tab, mac(1), 800, 0, false) // so it expires from 0
	tab.Learn(mac(1), 1, 100)
	tab.Learn(mac(1), 1, 150)
	if es := tab.Entries(150); len(es) != 1 || es[0].Age != 50 {
		t.Fatalf("Entries(150) = %v; want age 50", es)
	}
	wantLookup(t, tab, mac(1), 899, 1, true)
	wantLookup(t, tab, mac(1), 900, 0, false)

	tab = New(64, 800)
	tab.Learn(mac(1), 1, 0)
	tab.Learn(mac(1), 1, 700) // refreshed
	wantLookup(t, tab, mac(1), 1400, 1, true)
	wantStats(t, tab, Stats{Learned: 1, Len: 1})
}

func TestMove(t *testing.T) {
	tab := New(64, 1000)
	tab.Learn(mac(1), 1, 0)
	tab.Learn(mac(1), 2, 10) // moves at once, however fresh
	wantLookup(t, tab, mac(1), 10, 2, true)
	wantStats(t, tab, Stats{Learned: 1, Moves: 1, Len: 1})
	tab.Learn(mac(1), 1, 20)
	wantLookup(t, tab, mac(1), 20, 1, true)
	wantStats(t, tab, Stats{Learned: 1, Moves: 2, Len: 1})
	tab.Learn(mac(1), 3, 1020) // expired: a new entry, not a move
	wantLookup(t, tab, mac(1), 1020, 3, true)
	wantStats(t, tab, Stats{Learned: 2, Moves: 2, Len: 1})
}

// TestDuplicate plants the state racing inserts can leave, one MAC in two
// slots, and checks a move cleans it up.
func TestDuplicate(t *testing.T) {
	tab := New(64, 1000)
	m := mac48(mac(1))
	b := &tab.buckets[tab.index(m)]
	b.key[2].Store(m<<16 | 1)
	b.key[5].Store(m<<16 | 2)
	tab.length.Store(2)
	wantLookup(t, tab, mac(1), 0, 1, true)
	if es := tab.Entries(0); len(es) != 1 {
		t.Fatalf("Entries = %v; want one entry", es)
	}
	tab.Learn(mac(1), 2, 10)
	wantLookup(t, tab, mac(1), 10, 2, true)
	if k := b.key[5].Load(); k != 0 {
		t.Fatalf("duplicate slot = %#x; want 0", k)
	}
	wantStats(t, tab, Stats{Moves: 1, Len: 1})
}

func TestNeverLearned(t *testing.T) {
	tests := []struct {
		name string
		mac  []byte
	}{
		{"broadcast", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"ipv4 multicast", []byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}},
		{"ipv6 multicast", []byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}},
		{"stp", []byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}},
		{"group local", []byte{0x03, 0x00, 0x00, 0x00, 0x00, 0x01}},
		{"zero", []byte{0, 0, 0, 0, 0, 0}},
		{"zero long", []byte{0, 0, 0, 0, 0, 0, 1}},
		{"short", []byte{0x02, 0, 0, 0, 1}},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := New(64, 1000)
			tab.Learn(tt.mac, 1, 0)
			wantLookup(t, tab, tt.mac, 0, 0, false)
			wantStats(t, tab, Stats{})
			if es := tab.Entries(0); len(es) != 0 {
				t.Fatalf("Entries = %v", es)
			}
		})
	}
}

func TestForget(t *testing.T) {
	tab := New(64, 1000)
	tab.Learn(mac(1), 1, 0)
	tab.Learn(mac(2), 2, 0)
	tab.Learn(mac(3), 1, 0)
	tab.Forget(1)
	wantLookup(t, tab, mac(1), 0, 0, false)
	wantLookup(t, tab, mac(2), 0, 2, true)
	wantLookup(t, tab, mac(3), 0, 0, false)
	wantStats(t, tab, Stats{Learned: 3, Len: 1})
	tab.Forget(9)
	wantStats(t, tab, Stats{Learned: 3, Len: 1})
	tab.Learn(mac(1), 1, 5)
	wantLookup(t, tab, mac(1), 5, 1, true)
}

func TestEntries(t *testing.T) {
	tab := New(64, 1000)
	tab.Learn(mac(9), 3, 500)
	tab.Learn(mac(1), 1, 100)
	tab.Learn([]byte{0xfe, 0, 0, 0, 0, 1}, 4, 0) // expired by 1000
	tab.Learn(mac(5), 2, 300)
	got := tab.Entries(1000)
	want := []Entry{
		{MAC: [6]byte{0x02, 0, 0, 0, 0, 1}, Node: 1, Age: 900},
		{MAC: [6]byte{0x02, 0, 0, 0, 0, 5}, Node: 2, Age: 700},
		{MAC: [6]byte{0x02, 0, 0, 0, 0, 9}, Node: 3, Age: 500},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Entries(1000) =\n%v\nwant\n%v", got, want)
	}
	if es := New(64, 0).Entries(0); len(es) != 0 {
		t.Fatalf("empty table Entries = %v", es)
	}
}

func TestEvictOldest(t *testing.T) {
	tab := New(64, 1000)
	ms := colliding(tab, bucketLen+2)
	for i := range bucketLen {
		tab.Learn(ms[i], uint16(i), int64(i+1))
	}
	wantStats(t, tab, Stats{Learned: bucketLen, Len: bucketLen})
	tab.Learn(ms[0], 0, 1) // refresh of a live entry: no eviction
	tab.Learn(ms[bucketLen], bucketLen, 9)
	wantStats(t, tab, Stats{Learned: bucketLen + 1, Full: 1, Len: bucketLen})
	wantLookup(t, tab, ms[0], 9, 0, false) // oldest, evicted
	for i := 1; i <= bucketLen; i++ {
		wantLookup(t, tab, ms[i], 9, uint16(i), true)
	}
	// ms[1] (seen at 2) has expired by 1002: its slot is reused, not counted Full.
	tab.Learn(ms[bucketLen+1], bucketLen+1, 1002)
	wantStats(t, tab, Stats{Learned: bucketLen + 2, Full: 1, Len: bucketLen})
	wantLookup(t, tab, ms[bucketLen+1], 1002, bucketLen+1, true)
	wantLookup(t, tab, ms[2], 1002, 2, true)
}

// TestFill learns far more MACs than fit; each bucket must keep exactly its
// 8 most recently learned MACs.
func TestFill(t *testing.T) {
	tab := New(100, 0)
	const n = 2000
	perBucket := map[uint64][]int{}
	for i := range n {
		tab.Learn(mac(i), uint16(i), int64(i))
		b := tab.index(mac48(mac(i)))
		perBucket[b] = append(perBucket[b], i)
	}
	s := tab.Stats()
	if s.Len != tab.Cap() || s.Learned != n || s.Full != n-uint64(tab.Cap()) {
		t.Fatalf("Stats = %+v; want Len %d, Learned %d, Full %d", s, tab.Cap(), n, n-tab.Cap())
	}
	for _, is := range perBucket {
		for j, i := range is {
			wantLookup(t, tab, mac(i), n, uint16(i), j >= len(is)-bucketLen)
		}
	}
	if es := tab.Entries(n); len(es) != tab.Cap() {
		t.Fatalf("len(Entries) = %d; want %d", len(es), tab.Cap())
	}
}

// TestConcurrent runs Learn, Lookup and Forget from 8 goroutines on a
// table too small for the MACs, so inserts, refreshes, moves, evictions and
// expiry all race. MAC i is only ever learned behind nodes 4i..4i+3, so a
// Lookup that returns another MAC's node is caught.
func TestConcurrent(t *testing.T) {
	const (
		macs    = 300
		workers = 8
		timeout = 2000
	)
	iters := 200_000
	if raceEnabled || testing.Short() {
		iters = 20_000
	}
	tab := New(64, timeout)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			var buf [6]byte
			for it := range iters {
				i := r.IntN(macs)
				copy(buf[:], mac(i))
				now := int64(it)
				switch op := r.IntN(100); {
				case op < 45:
					tab.Learn(buf[:], uint16(4*i+r.IntN(4)), now)
				case op < 99:
					if node, ok := tab.Lookup(buf[:], now); ok && int(node)/4 != i {
						t.Errorf("Lookup(mac %d) = node %d, learned only for mac %d", i, node, node/4)
						return
					}
				default:
					tab.Forget(uint16(4*i + r.IntN(4)))
				}
			}
		})
	}
	wg.Wait()
	for _, e := range tab.Entries(int64(iters)) {
		if i := int(e.MAC[4])<<8 | int(e.MAC[5]); int(e.Node)/4 != i {
			t.Errorf("entry %v: node of mac %d", e, e.Node/4)
		}
	}
	if s := tab.Stats(); s.Len < 0 || s.Len > tab.Cap() || s.Learned == 0 || s.Moves == 0 || s.Full == 0 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("race detector allocates")
	}
	tab := New(1<<16, 1000)
	i, now := 0, int64(0)
	node := uint16(0)
	hit := mac(1 << 20)
	tab.Learn(hit, 1, 0)
	miss := mac(1<<20 + 1)
	tests := []struct {
		name string
		f    func()
	}{
		{"learn new", func() { i++; tab.Learn(mac(i), 1, now) }},
		{"learn refresh", func() { now++; tab.Learn(hit, 1, now) }},
		{"learn move", func() { node ^= 1; tab.Learn(miss, node, now) }},
		{"lookup hit", func() { tab.Lookup(hit, now) }},
		{"lookup miss", func() { tab.Lookup(mac(1<<21), now) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tt.f); n != 0 {
				t.Fatalf("allocs = %v", n)
			}
		})
	}
	if s := tab.Stats(); s.Moves < 1000 || s.Learned < 1000 {
		t.Fatalf("Stats = %+v: paths not exercised", s)
	}
}

// benchTable returns a table holding n MACs (no evictions) and the MACs.
func benchTable(n int) (*Table, [][6]byte) {
	tab := New(4*n, 1e9)
	ms := make([][6]byte, n)
	for i := range ms {
		copy(ms[i][:], mac(i))
		tab.Learn(ms[i][:], uint16(i), 0)
	}
	return tab, ms
}

func BenchmarkLookup(b *testing.B) {
	tab, ms := benchTable(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tab.Lookup(ms[i&4095][:], 1)
		i++
	}
}

func BenchmarkLearn(b *testing.B) {
	tab, ms := benchTable(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tab.Learn(ms[i&4095][:], uint16(i&4095), 1) // refresh, no write
		i++
	}
}

func BenchmarkParallel(b *testing.B) {
	b.Run("lookup", func(b *testing.B) {
		tab, ms := benchTable(4096)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(4096)
			for pb.Next() {
				tab.Lookup(ms[i&4095][:], 1)
				i++
			}
		})
	})
	// Every worker learns and looks up the same MACs, as rx and tx workers
	// do; time advances, so now and then a refresh (every 1/8 of the
	// timeout) writes the time.
	b.Run("learn+lookup", func(b *testing.B) {
		tab, ms := benchTable(4096)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(4096)
			now := int64(0)
			for pb.Next() {
				m := ms[i&4095][:]
				tab.Learn(m, uint16(i&4095), now)
				tab.Lookup(m, now)
				i++
				now += 1000
			}
		})
	})
}
