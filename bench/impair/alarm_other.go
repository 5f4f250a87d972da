// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package impair

import (
	"sync"
	"time"
)

// alarm wakes a sender at a due time. Off Linux it is a runtime timer
// alone, which may go off up to a millisecond late.
type alarm struct {
	r    *Relay
	t    *time.Timer
	done chan struct{}
	once sync.Once
}

func newAlarm(r *Relay, wake chan<- struct{}) (*alarm, error) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &alarm{r: r, t: t, done: make(chan struct{})}, nil
}

// C is the runtime timer's channel.
func (a *alarm) C() <-chan time.Time { return a.t.C }

// set makes the alarm go off at due (relay clock), replacing the time set
// before; a time past goes off at once.
func (a *alarm) set(due int64) { a.t.Reset(time.Duration(due - a.r.now())) }

// run returns at close: the timer needs no goroutine.
func (a *alarm) run() { <-a.done }

func (a *alarm) close() {
	a.once.Do(func() {
		a.t.Stop()
		close(a.done)
	})
}
