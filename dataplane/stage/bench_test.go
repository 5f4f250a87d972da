// SPDX-License-Identifier: Apache-2.0

package stage

import "strconv"

// benchSizes are the frame sizes every stage benchmark reports.
var benchSizes = []int{64, 512, 1400, 9000}

func sizeName(n int) string { return strconv.Itoa(n) }
