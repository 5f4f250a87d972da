// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"math"
	"slices"
)

// Summary condenses the repeats of one metric.
type Summary struct {
	N      int     // samples (repeats that produced a value)
	Median float64 // the middle sample, or the mean of the two middle ones
	Min    float64
	Max    float64
	// Spread is (Max-Min)/Median: 0 when every sample is equal, NaN when
	// the median is 0 and the samples differ.
	Spread float64
}

// Summarize returns the summary of the samples, ignoring NaNs (missing
// values). ok is false when no sample is left.
func Summarize(samples []float64) (s Summary, ok bool) {
	v := make([]float64, 0, len(samples))
	for _, x := range samples {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Summary{}, false
	}
	slices.Sort(v)
	s.N = len(v)
	s.Min, s.Max = v[0], v[len(v)-1]
	if n := len(v); n%2 == 1 {
		s.Median = v[n/2]
	} else {
		s.Median = (v[n/2-1] + v[n/2]) / 2
	}
	switch {
	case s.Max == s.Min:
		s.Spread = 0
	case s.Median == 0:
		s.Spread = math.NaN()
	default:
		s.Spread = (s.Max - s.Min) / math.Abs(s.Median)
	}
	return s, true
}

// Median is the median of the samples ignoring NaNs; NaN if none is left.
func Median(samples []float64) float64 {
	s, ok := Summarize(samples)
	if !ok {
		return math.NaN()
	}
	return s.Median
}

// round rounds x to 4 significant digits (for the JSON report).
func round(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	p := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(x))))
	return math.Round(x*p) / p
}
