// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package traffic

import "time"

func fineSleep(d time.Duration) { time.Sleep(d) }

func preciseThread() (undo func()) { return func() {} }
