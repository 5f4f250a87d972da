// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// series is one bar of every row group in a panel.
type series struct {
	metric, label, color string
}

// panel is one chart: a quantity per row, one bar per series.
type panel struct {
	title  string
	series []series
	format func(float64) string
}

// SVG draws the report as a self-contained SVG chart: TCP Gbit/s (1 and
// 4 streams) and frames/s delivered (64, 1400 and, where measured, 9000
// bytes) per row, as horizontal bars of the medians with min-max whiskers.
//
// memif rows are left out: their frames/s of saturating one-way load, in
// the millions, would dwarf the other rows' bars and measure something
// else; they are in the table.
func (rep *Report) SVG() []byte {
	all := rep
	rep = &Report{Machine: all.Machine, Settings: all.Settings}
	for _, rr := range all.Rows {
		if !rr.Row.Memif() {
			rep.Rows = append(rep.Rows, rr)
		}
	}
	frames := []series{{MPPS64, "64-byte frames", "#f28e2b"}, {MPPS1400, "1400-byte frames", "#59a14f"}}
	for _, rr := range rep.Rows {
		if _, ok := rr.Samples[MPPS9000]; ok {
			frames = append(frames, series{MPPS9000, "9000-byte frames", "#b07aa1"})
			break
		}
	}
	panels := []panel{
		{"TCP throughput, Gbit/s", []series{{MTCP1, "1 stream", "#4e79a7"}, {MTCP4, "4 streams", "#a0cbe8"}}, fmtAuto},
		{"Frames/s delivered at < 0.1% loss", frames, fmtSI},
	}

	const (
		width   = 1100.0
		margin  = 20.0
		barH    = 13.0
		gap     = 12.0
		top     = 108.0
		charW   = 7.2 // average width of a 12px sans-serif character
		panelGp = 40.0
		valueW  = 62.0 // room right of the longest bar for its value
	)
	labelW := 120.0
	for _, rr := range rep.Rows {
		labelW = max(labelW, float64(len(rr.Row.Name))*charW+16)
	}
	bars := 0
	for _, p := range panels {
		bars = max(bars, len(p.series))
	}
	groupH := float64(bars)*barH + gap
	plotH := float64(len(rep.Rows))*groupH + gap
	height := top + plotH + 70
	panelW := (width - 2*margin - labelW - panelGp) / 2
	barW := panelW - valueW // the axis length

	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	m := rep.Machine
	text(&b, margin, 28, "start", `font-size="18" font-weight="bold"`, "skiff bench")
	text(&b, margin, 48, "start", `fill="#555555"`, fmt.Sprintf("%s, %d cores, Linux %s, %s, skiff %s, %s", m.CPU, m.Cores, m.Kernel, m.Go, m.Skiff, m.Date))

	for pi, p := range panels {
		x0 := margin + labelW + float64(pi)*(panelW+panelGp)
		// Scale: a round number at or above the largest value or whisker.
		hi := 0.0
		for _, rr := range rep.Rows {
			for _, s := range p.series {
				if sum, ok := rr.Summary(s.metric); ok {
					hi = max(hi, sum.Max)
				}
			}
		}
		scale, step := niceScale(hi)
		text(&b, x0, 72, "start", `font-size="14" font-weight="bold"`, p.title)
		lx := x0
		for _, s := range p.series {
			fmt.Fprintf(&b, `<rect x="%.1f" y="82" width="12" height="12" fill="%s"/>`+"\n", lx, s.color)
			text(&b, lx+16, 92.5, "start", "", s.label)
			lx += 16 + float64(len(s.label))*charW + 14
		}
		// Grid and ticks.
		for v := 0.0; v <= scale*1.0001; v += step {
			x := x0 + v/scale*barW
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", x, top, x, top+plotH)
			text(&b, x, top+plotH+16, "middle", `fill="#555555"`, trimZeros(p.format(v)))
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`+"\n", x0, top, x0, top+plotH)
		for ri, rr := range rep.Rows {
			gy := top + gap + float64(ri)*groupH
			for si, s := range p.series {
				y := gy + float64(si)*barH
				samples, measured := rr.Samples[s.metric]
				if !measured {
					continue
				}
				sum, ok := Summarize(samples)
				if !ok {
					text(&b, x0+4, y+barH-3, "start", `fill="#aa0000" font-size="10"`, "failed")
					continue
				}
				w := sum.Median / scale * barW
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
					x0, y+1, w, barH-2, s.color, esc(rr.Row.Name), esc(s.label), esc(p.format(sum.Median)))
				end := x0 + w
				if sum.N > 1 {
					x1, x2 := x0+sum.Min/scale*barW, x0+sum.Max/scale*barW
					cy := y + barH/2
					fmt.Fprintf(&b, `<path d="M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f" stroke="#222222" fill="none"/>`+"\n",
						x1, cy, x2, x1, cy-3, cy+3, x2, cy-3, cy+3)
					end = max(end, x2)
				}
				label := p.format(sum.Median)
				if rr.LowerBound[s.metric] {
					label = "≥" + label
				}
				text(&b, end+4, y+barH-3, "start", `font-size="10" fill="#333333"`, label)
			}
		}
	}
	// Row labels.
	for ri, rr := range rep.Rows {
		gy := top + gap + float64(ri)*groupH
		text(&b, margin+labelW-8, gy+float64(bars)*barH/2+4, "end", "", rr.Row.Name)
	}
	note := fmt.Sprintf("Median of %d repeat(s); whiskers: min-max. Both sites, the traffic generator and the receiver share the machine. Frames/s: highest rate with < 0.1%% loss (≥: the generator was the limit).", rep.Settings.Repeat)
	if len(rep.Rows) < len(all.Rows) {
		note += " memif rows: see the table."
	}
	text(&b, margin, top+plotH+44, "start", `fill="#555555" font-size="11"`, note)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// text writes a <text> element with escaped content.
func text(b *bytes.Buffer, x, y float64, anchor, attrs, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, attrs, esc(s))
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// niceScale returns an axis maximum at or above hi and a round tick step
// (1, 2, 2.5 or 5 times a power of ten) giving 4 to 8 intervals.
func niceScale(hi float64) (scale, step float64) {
	if hi <= 0 || math.IsNaN(hi) || math.IsInf(hi, 0) {
		return 1, 0.25
	}
	raw := hi / 8
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if step = f * p; step >= raw {
			break
		}
	}
	return math.Ceil(hi/step*(1-1e-9)) * step, step
}

// fmtSI prints a count with a k or M suffix.
func fmtSI(x float64) string {
	switch a := math.Abs(x); {
	case a >= 1e6:
		return trimZeros(strconv.FormatFloat(x/1e6, 'f', 2, 64)) + "M"
	case a >= 1e3:
		return trimZeros(strconv.FormatFloat(x/1e3, 'f', 1, 64)) + "k"
	}
	return strconv.FormatFloat(x, 'f', 0, 64)
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") && !strings.ContainsAny(s, "kM") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
