// SPDX-License-Identifier: Apache-2.0

package impair

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// alarm wakes a sender at a due time, twice: from a runtime timer (C) and
// from a timerfd in the runtime's poller (a poke on wake). When the process
// is idle, the runtime sleeps in the poller in whole milliseconds, so the
// timer alone would go off up to 1ms late; the timerfd wakes the poller
// within microseconds. When the process is busy, the runtime looks at its
// timers more often than at the poller, and the timer goes off first.
type alarm struct {
	r    *Relay
	t    *time.Timer
	f    *os.File
	rc   syscall.RawConn
	base int64 // CLOCK_MONOTONIC at relay clock 0
	wake chan<- struct{}
}

func newAlarm(r *Relay, wake chan<- struct{}) (*alarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("impair: timerfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("impair: timerfd: %w", err)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		f.Close()
		return nil, fmt.Errorf("impair: clock: %w", err)
	}
	// The runtime's monotonic clock is CLOCK_MONOTONIC: the relay clock
	// plus base is a timerfd time.
	base := ts.Nano() - r.now()
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &alarm{r: r, t: t, f: f, rc: rc, base: base, wake: wake}, nil
}

// C is the runtime timer's channel.
func (a *alarm) C() <-chan time.Time { return a.t.C }

// set makes the alarm go off at due (relay clock), replacing the time set
// before; a time past goes off at once.
func (a *alarm) set(due int64) {
	a.t.Reset(time.Duration(due - a.r.now()))
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(a.base + max(due, 1))}
	a.rc.Control(func(fd uintptr) { // fails only once closed
		unix.TimerfdSettime(int(fd), unix.TFD_TIMER_ABSTIME, &spec, nil)
	})
}

// run pokes wake each time the timerfd goes off, until close.
func (a *alarm) run() {
	var buf [8]byte
	for {
		if _, err := a.f.Read(buf[:]); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			time.Sleep(time.Millisecond) // not seen; but never spin
		}
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

func (a *alarm) close() {
	a.t.Stop()
	a.f.Close()
}
