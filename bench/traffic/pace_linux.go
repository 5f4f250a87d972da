// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// fineSleep sleeps for d in nanosleep(2), blocking the thread.
func fineSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	unix.Nanosleep(&ts, nil)
}

// preciseThread locks the calling goroutine to its thread and lowers the
// thread's timer slack (50µs by default, added to every sleep) to 1µs, for
// fineSleep. The returned function undoes both.
func preciseThread() (undo func()) {
	runtime.LockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || unix.Prctl(unix.PR_SET_TIMERSLACK, 1000, 0, 0, 0) != nil {
		return runtime.UnlockOSThread
	}
	return func() {
		unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
		runtime.UnlockOSThread()
	}
}
