// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/pipeline"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/porttest"
)

// brokenPort fails every read with a non-close error.
type brokenPort struct{ *porttest.Port }

var errBroken = errors.New("device gone")

func (b brokenPort) ReadBatch([]*buf.Packet) (int, error) { return 0, errBroken }

// A port that keeps failing stops the whole engine: every worker ends, not
// only the one that saw the errors.
func TestFatalPortErrorStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	_, loc := porttest.NewPair(8, 8)
	u1, _ := porttest.NewPair(8, 8)
	u2, _ := porttest.NewPair(8, 8)
	e := New(Config{Local: loc, Underlays: []port.Port{u1, brokenPort{u2}}}, &pipeline.Snapshot{})
	e.Start()
	select {
	case <-e.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("engine did not stop on a failing port")
	}
	if !errors.Is(e.Err(), errBroken) {
		t.Fatalf("Err = %v", e.Err())
	}
	done := make(chan error)
	go func() { done <- e.Close() }()
	select {
	case err := <-done:
		if !errors.Is(err, errBroken) {
			t.Fatalf("Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs: a worker kept running")
	}
	checkGoroutines(t, before)
}
