package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Layout in pixels (the canvas runs at 72 dpi, so a point is a pixel).
const (
	unitPx    = 36 // one gridPos height unit
	headerPx  = 40
	captionPx = 58
	gapPx     = 4
	titlePx   = 24
)

// Grafana's dark theme and classic palette.
var (
	bgColor     = hex("#111217")
	panelColor  = hex("#181b1f")
	borderColor = hex("#2c3235")
	textColor   = hex("#ccccdc")
	dimColor    = hex("#8e8e9e")
	gridColor   = hex("#26292e")
	palette     = []string{"#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9",
		"#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
		"#B7DBAB", "#F4D598", "#70DBED", "#F9BA8F", "#F29191", "#82B5D8", "#E5A8E2", "#AEA2E0"}
	named = map[string]string{
		"green": "#73BF69", "red": "#F2495C", "orange": "#FF9830", "yellow": "#FADE2A",
		"blue": "#5794F2", "purple": "#B877D9", "gray": "#808080", "grey": "#808080",
		"text": "#ccccdc", "transparent": "#00000000",
	}
)

func hex(s string) color.NRGBA {
	s = strings.TrimPrefix(s, "#")
	n, _ := strconv.ParseUint(s, 16, 32)
	if len(s) == 8 {
		return color.NRGBA{uint8(n >> 24), uint8(n >> 16), uint8(n >> 8), uint8(n)}
	}
	return color.NRGBA{uint8(n >> 16), uint8(n >> 8), uint8(n), 255}
}

func grafanaColor(name string) color.NRGBA {
	if h, ok := named[name]; ok {
		return hex(h)
	}
	if strings.HasPrefix(name, "#") {
		return hex(name)
	}
	return hex(named["gray"])
}

func sans(size float64) font.Font {
	return font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, vg.Length(size))
}

func style(size float64, c color.Color, xa text.XAlignment, ya text.YAlignment) draw.TextStyle {
	return draw.TextStyle{Color: c, Font: sans(size), XAlign: xa, YAlign: ya, Handler: plot.DefaultTextHandler}
}

// fit shortens s with an ellipsis until it is at most w wide.
func fit(st draw.TextStyle, s string, w vg.Length) string {
	if st.Width(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 1 {
		r = r[:len(r)-1]
		if st.Width(string(r)+"…") <= w {
			return string(r) + "…"
		}
	}
	return ""
}

func rect(x0, y0, x1, y1 vg.Length) vg.Rectangle {
	return vg.Rectangle{Min: vg.Point{X: x0, Y: y0}, Max: vg.Point{X: x1, Y: y1}}
}

func fillRect(c vg.Canvas, r vg.Rectangle, col color.Color) {
	var p vg.Path
	p.Move(r.Min)
	p.Line(vg.Point{X: r.Max.X, Y: r.Min.Y})
	p.Line(r.Max)
	p.Line(vg.Point{X: r.Min.X, Y: r.Max.Y})
	p.Close()
	c.SetColor(col)
	c.Fill(p)
}

func strokeRect(c vg.Canvas, r vg.Rectangle, col color.Color) {
	var p vg.Path
	p.Move(r.Min)
	p.Line(vg.Point{X: r.Max.X, Y: r.Min.Y})
	p.Line(r.Max)
	p.Line(vg.Point{X: r.Min.X, Y: r.Max.Y})
	p.Close()
	c.SetColor(col)
	c.SetLineWidth(1)
	c.SetLineDash(nil, 0)
	c.Stroke(p)
}

// Render draws the dashboard's panels with the query results as a PNG.
func Render(w io.Writer, d *Dashboard, env *Env, results map[int][]Result, width int, dashPath, source string) error {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	rows := 0
	for _, p := range d.Panels {
		rows = max(rows, p.GridPos.Y+p.GridPos.H)
	}
	W, H := vg.Length(width), vg.Length(headerPx+rows*unitPx+captionPx)
	img := vgimg.NewWith(vgimg.UseWH(W, H), vgimg.UseDPI(72), vgimg.UseBackgroundColor(bgColor))
	dc := draw.New(img)

	// The header: the dashboard's title, the range and the variables' values.
	dc.FillText(style(17, textColor, draw.XLeft, draw.YCenter), vg.Point{X: 12, Y: H - headerPx/2}, d.Title)
	var vars []string
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			continue
		}
		val := env.Vars[v.Name]
		if val == ".*" {
			val = "All"
		}
		vars = append(vars, v.Name+" = "+val)
	}
	rng := fmt.Sprintf("%s to %s UTC (%s)   ·   %s", env.From.UTC().Format("2006-01-02 15:04:05"), env.To.UTC().Format("15:04:05"),
		env.To.Sub(env.From).Round(time.Second), strings.Join(vars, "   "))
	dc.FillText(style(12, dimColor, draw.XRight, draw.YCenter), vg.Point{X: W - 12, Y: H - headerPx/2}, rng)

	colW := W / 24
	for i, p := range d.Panels {
		g := p.GridPos
		top := H - headerPx - vg.Length(g.Y*unitPx)
		r := rect(vg.Length(g.X)*colW+gapPx, top-vg.Length(g.H*unitPx)+gapPx, vg.Length(g.X+g.W)*colW-gapPx, top-gapPx)
		c := draw.Canvas{Canvas: img, Rectangle: r}
		if p.Type == "row" {
			c.FillText(style(15, textColor, draw.XLeft, draw.YCenter), vg.Point{X: r.Min.X + 4, Y: (r.Min.Y + r.Max.Y) / 2}, p.Title)
			continue
		}
		fillRect(img, r, panelColor)
		strokeRect(img, r, borderColor)
		tst := style(13, textColor, draw.XLeft, draw.YCenter)
		c.FillText(tst, vg.Point{X: r.Min.X + 8, Y: r.Max.Y - titlePx/2}, fit(tst, p.Title, r.Size().X-16))
		body := draw.Canvas{Canvas: img, Rectangle: rect(r.Min.X+6, r.Min.Y+6, r.Max.X-6, r.Max.Y-titlePx)}
		res := results[i]
		var err error
		switch p.Type {
		case "timeseries":
			err = drawTimeSeries(body, p, env, res)
		case "stat":
			drawStat(body, p, res)
		case "bargauge":
			drawBarGauge(body, p, res)
		case "state-timeline":
			drawStateTimeline(body, p, env, res)
		case "table":
			drawTable(body, p, res)
		default:
			return fmt.Errorf("panel %q: type %q is not drawn by the preview", p.Title, p.Type)
		}
		if err != nil {
			return fmt.Errorf("panel %q: %w", p.Title, err)
		}
	}

	// The caption says what this picture is and is not.
	cst := style(13, textColor, draw.XLeft, draw.YCenter)
	dc.FillText(cst, vg.Point{X: 12, Y: captionPx - 18},
		"Rendered by scripts/dashboard-preview from "+dashPath+"'s own queries against Prometheus — not a Grafana screenshot")
	line := fmt.Sprintf("Made %s · range %s to %s UTC · step ($__interval) %s, $__rate_interval %s, $__range %s",
		time.Now().UTC().Format("2006-01-02"), env.From.UTC().Format("2006-01-02 15:04:05"), env.To.UTC().Format("15:04:05"),
		promDur(env.Interval), promDur(env.RateInterval()), promDur(env.To.Sub(env.From).Truncate(time.Second)))
	if source != "" {
		line += " · data: " + source
	}
	dc.FillText(style(11, dimColor, draw.XLeft, draw.YCenter), vg.Point{X: 12, Y: captionPx - 38}, line)
	// A paletted PNG of the picture's own most frequent colours: flat
	// panels and lines need few, and it keeps the file small for the README.
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	return enc.Encode(w, paletted(img.Image()))
}

// paletted maps every pixel to the nearest of 256 colours: the mean
// colours of the 256 fullest cells of a 32×32×32 grid over RGB, so a
// gradient's shades get their share beside the flat panels and the text.
func paletted(src image.Image) *image.Paletted {
	b := src.Bounds()
	type cell struct{ n, r, g, b int }
	cells := map[int]*cell{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := src.At(x, y).RGBA()
			k := int(r>>11)<<10 | int(g>>11)<<5 | int(bb>>11)
			c := cells[k]
			if c == nil {
				c = &cell{}
				cells[k] = c
			}
			c.n++
			c.r += int(r >> 8)
			c.g += int(g >> 8)
			c.b += int(bb >> 8)
		}
	}
	keys := make([]int, 0, len(cells))
	for k := range cells {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if cells[keys[i]].n != cells[keys[j]].n {
			return cells[keys[i]].n > cells[keys[j]].n
		}
		return keys[i] < keys[j]
	})
	pal := make(color.Palette, 0, 256)
	for _, k := range keys[:min(256, len(keys))] {
		c := cells[k]
		pal = append(pal, color.RGBA{uint8(c.r / c.n), uint8(c.g / c.n), uint8(c.b / c.n), 255})
	}
	dst := image.NewPaletted(b, pal)
	memo := map[color.RGBA]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := src.At(x, y).RGBA()
			c := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bb >> 8), 255}
			i, ok := memo[c]
			if !ok {
				i = uint8(pal.Index(c))
				memo[c] = i
			}
			dst.SetColorIndex(x, y, i)
		}
	}
	return dst
}

type named2 struct {
	name string
	s    Series
}

// seriesOf flattens a panel's results in query order with their legend names.
func seriesOf(res []Result) []named2 {
	var out []named2
	for _, r := range res {
		ss := append([]Series(nil), r.Series...)
		// Prometheus returns series in no set order; Grafana shows them as
		// they come, sorted here so the picture is stable.
		sort.SliceStable(ss, func(i, j int) bool {
			return LegendName(r.Query.Legend, ss[i].Labels) < LegendName(r.Query.Legend, ss[j].Labels)
		})
		for _, s := range ss {
			out = append(out, named2{LegendName(r.Query.Legend, s.Labels), s})
		}
	}
	return out
}

func lastNotNull(v []float64) (float64, bool) {
	for i := len(v) - 1; i >= 0; i-- {
		if !math.IsNaN(v[i]) && !math.IsInf(v[i], 0) {
			return v[i], true
		}
	}
	return 0, false
}

func maxOf(v []float64) (float64, bool) {
	m, ok := math.Inf(-1), false
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) && x > m {
			m, ok = x, true
		}
	}
	return m, ok
}

func noData(c draw.Canvas) {
	c.FillText(style(14, dimColor, draw.XCenter, draw.YCenter), c.Center(), "No data")
}

// unitTicks labels DefaultTicks' values in the panel's unit.
type unitTicks struct{ unit string }

func (u unitTicks) Ticks(lo, hi float64) []plot.Tick {
	// Seconds past two minutes tick on round minutes (hours past two
	// hours), as Grafana's do.
	scale := 1.0
	if u.unit == "s" {
		switch m := math.Max(math.Abs(lo), math.Abs(hi)); {
		case m >= 7200:
			scale = 3600
		case m >= 120:
			scale = 60
		}
	}
	ts := plot.DefaultTicks{}.Ticks(lo/scale, hi/scale)
	var major []plot.Tick
	for _, t := range ts {
		if t.Label != "" {
			major = append(major, t)
		}
	}
	// Grafana labels every grid line and has no minor ticks: with fewer
	// than four major ticks, the minor ones get labels too (every other
	// one when they are many).
	if len(major) < 4 {
		// DefaultTicks lists the major ticks first: in value order, every
		// other tick from a major one keeps the majors.
		all := append([]plot.Tick(nil), ts...)
		sort.Slice(all, func(i, j int) bool { return all[i].Value < all[j].Value })
		major = all
		if len(all) > 9 {
			first := 0
			for i, t := range all {
				if t.Label != "" {
					first = i
					break
				}
			}
			major = nil
			for i, t := range all {
				if (i-first)%2 == 0 {
					major = append(major, t)
				}
			}
		}
	}
	out := make([]plot.Tick, len(major))
	for i, t := range major {
		v := t.Value * scale
		out[i] = plot.Tick{Value: v, Label: FormatValue(v, u.unit)}
	}
	return out
}

// timeTicks puts HH:MM labels on round minutes, about six of them.
type timeTicks struct{}

func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	steps := []float64{10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if (hi-lo)/s <= 7 {
			step = s
			break
		}
	}
	format := "15:04"
	if step < 60 {
		format = "15:04:05"
	}
	var ts []plot.Tick
	for t := math.Ceil(lo/step) * step; t <= hi; t += step {
		ts = append(ts, plot.Tick{Value: t, Label: time.Unix(int64(t), 0).UTC().Format(format)})
	}
	return ts
}

func styleAxis(a *plot.Axis) {
	a.LineStyle.Width = 0
	a.Tick.LineStyle.Width = 0
	a.Tick.Length = 2
	a.Tick.Label.Color = dimColor
	a.Tick.Label.Font = sans(10)
	a.Padding = 2
}

func drawTimeSeries(c draw.Canvas, p Panel, env *Env, res []Result) error {
	all := seriesOf(res)
	if len(all) == 0 {
		noData(c)
		return nil
	}
	unit := p.FieldConfig.Defaults.Unit
	// The legend, a table under the graph as the panel's options ask: as
	// many rows as fit in 45% of the panel, then a line saying how many more.
	rowH := vg.Length(13)
	maxRows := int((c.Size().Y*0.45 - rowH) / rowH)
	// Two legend columns side by side when the series outnumber the rows
	// and the panel is wide enough.
	ncol := 1
	if len(all) > maxRows && c.Size().X >= 700 {
		ncol = 2
	}
	shown := min(len(all), maxRows*ncol)
	if shown < len(all) {
		shown = max((maxRows-1)*ncol, 1)
	}
	perCol := (shown + ncol - 1) / ncol
	legendH := rowH * vg.Length(perCol+1)
	if shown < len(all) {
		legendH += rowH
	}
	graph := draw.Canvas{Canvas: c.Canvas, Rectangle: rect(c.Min.X, c.Min.Y+legendH+4, c.Max.X, c.Max.Y)}

	pl := plot.New()
	pl.BackgroundColor = color.Transparent
	styleAxis(&pl.X)
	styleAxis(&pl.Y)
	pl.X.Tick.Marker = timeTicks{}
	pl.Y.Tick.Marker = unitTicks{unit}
	pl.X.Min, pl.X.Max = float64(env.From.Unix()), float64(env.To.Unix())
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridColor, gridColor
	grid.Vertical.Width, grid.Horizontal.Width = 1, 1
	pl.Add(grid)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for i, s := range all {
		col := hex(palette[i%len(palette)])
		// A gap in the data (more than two steps without a sample) is a
		// gap in the line, as Grafana draws it.
		var seg plotter.XYs
		flush := func() {
			if len(seg) == 0 {
				return
			}
			l, err := plotter.NewLine(seg)
			if err == nil {
				l.Color, l.Width = col, 1.5
				pl.Add(l)
			}
			seg = nil
		}
		for k := range s.s.T {
			v := s.s.V[k]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				flush()
				continue
			}
			if k > 0 && s.s.T[k]-s.s.T[k-1] > 2*env.Interval.Seconds() {
				flush()
			}
			seg = append(seg, plotter.XY{X: s.s.T[k], Y: v})
			ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
		}
		flush()
	}
	if math.IsInf(ymin, 0) {
		noData(graph)
	} else {
		th := p.FieldConfig.Defaults.Thresholds
		if p.FieldConfig.Defaults.Custom.ThresholdsStyle.Mode == "line" && th != nil {
			for _, st := range th.Steps {
				if st.Value == nil {
					continue
				}
				l, _ := plotter.NewLine(plotter.XYs{{X: pl.X.Min, Y: *st.Value}, {X: pl.X.Max, Y: *st.Value}})
				l.Color, l.Width, l.Dashes = grafanaColor(st.Color), 1.5, []vg.Length{6, 4}
				pl.Add(l)
				ymax = math.Max(ymax, *st.Value)
			}
		}
		if ymin >= 0 {
			ymin = 0
		}
		if ymax <= ymin {
			ymax = ymin + 1
		}
		pl.Y.Min, pl.Y.Max = ymin, ymax+(ymax-ymin)*0.05
		if mn := p.FieldConfig.Defaults.Min; mn != nil {
			pl.Y.Min = *mn
		}
		if mx := p.FieldConfig.Defaults.Max; mx != nil {
			pl.Y.Max = *mx
		}
		pl.Draw(graph)
	}

	// The legend table: name, then the calcs the panel asks for.
	calcs := p.Options.Legend.Calcs
	calcW := vg.Length(72)
	colSpan := c.Size().X / vg.Length(ncol)
	nameW := colSpan - calcW*vg.Length(len(calcs)) - 24
	top := c.Min.Y + legendH - rowH/2
	hst := style(10, dimColor, draw.XRight, draw.YCenter)
	nst := style(10.5, textColor, draw.XLeft, draw.YCenter)
	vst := style(10.5, textColor, draw.XRight, draw.YCenter)
	for col := 0; col < ncol; col++ {
		right := c.Min.X + colSpan*vg.Length(col+1) - 8
		for j, calc := range calcs {
			name := map[string]string{"lastNotNull": "Last *", "max": "Max", "mean": "Mean", "min": "Min", "last": "Last"}[calc]
			if name == "" {
				name = calc
			}
			c.FillText(hst, vg.Point{X: right - calcW*vg.Length(len(calcs)-1-j), Y: top}, name)
		}
	}
	for i, s := range all[:shown] {
		left := c.Min.X + colSpan*vg.Length(i/perCol)
		right := left + colSpan - 8
		y := top - rowH*vg.Length(i%perCol+1)
		fillRect(c.Canvas, rect(left+2, y-1.5, left+14, y+1.5), hex(palette[i%len(palette)]))
		c.FillText(nst, vg.Point{X: left + 18, Y: y}, fit(nst, s.name, nameW))
		for j, calc := range calcs {
			var v float64
			ok := false
			switch calc {
			case "lastNotNull":
				v, ok = lastNotNull(s.s.V)
			case "max":
				v, ok = maxOf(s.s.V)
			}
			txt := "-"
			if ok {
				txt = FormatValue(v, unit)
			}
			c.FillText(vst, vg.Point{X: right - calcW*vg.Length(len(calcs)-1-j), Y: y}, txt)
		}
	}
	y := top - rowH*vg.Length(perCol)
	if shown < len(all) {
		y -= rowH
		c.FillText(style(10, dimColor, draw.XLeft, draw.YCenter), vg.Point{X: c.Min.X + 18, Y: y},
			fmt.Sprintf("… and %d more series (not shown here; Grafana scrolls the legend)", len(all)-shown))
	}
	return nil
}

// thresholdColor is the colour of v: its value mapping's, else the last
// threshold step at or below it. Without thresholds, Grafana's defaults
// (green, red from 80).
func thresholdColor(p Panel, v float64) (color.NRGBA, string) {
	key := strconv.FormatFloat(v, 'f', -1, 64)
	for _, m := range p.FieldConfig.Defaults.Mappings {
		if m.Type != "value" {
			continue
		}
		if o, ok := m.Options[key]; ok {
			return grafanaColor(o.Color), o.Text
		}
	}
	col := "green"
	if th := p.FieldConfig.Defaults.Thresholds; th != nil {
		for _, st := range th.Steps {
			if st.Value == nil || v >= *st.Value {
				col = st.Color
			}
		}
	} else if v >= 80 {
		col = "red"
	}
	return grafanaColor(col), ""
}

func drawStat(c draw.Canvas, p Panel, res []Result) {
	all := seriesOf(res)
	if len(all) == 0 {
		noData(c)
		return
	}
	n := len(all)
	// Tiles side by side, wrapping into rows when they get narrow.
	cols := n
	for cols > 1 && c.Size().X/vg.Length(cols) < 150 {
		cols--
	}
	nrows := (n + cols - 1) / cols
	tw, th := c.Size().X/vg.Length(cols), c.Size().Y/vg.Length(nrows)
	for i, s := range all {
		x0 := c.Min.X + tw*vg.Length(i%cols)
		y1 := c.Max.Y - th*vg.Length(i/cols)
		r := rect(x0+3, y1-th+3, x0+tw-3, y1-3)
		v, ok := lastNotNull(s.s.V)
		txt := "-"
		bg := hex(named["gray"])
		if ok {
			var mapped string
			bg, mapped = thresholdColor(p, v)
			txt = FormatValue(v, p.FieldConfig.Defaults.Unit)
			if mapped != "" {
				txt = mapped
			}
		}
		fillRect(c.Canvas, r, bg)
		fg := color.NRGBA{255, 255, 255, 255}
		nst := style(12, fg, draw.XCenter, draw.YCenter)
		c.FillText(nst, vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: r.Max.Y - 18}, fit(nst, s.name, r.Size().X-8))
		size := math.Min(30, float64(th)/4)
		vst := style(size, fg, draw.XCenter, draw.YCenter)
		c.FillText(vst, vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: (r.Min.Y+r.Max.Y)/2 - 6}, fit(vst, txt, r.Size().X-8))
	}
}

func drawBarGauge(c draw.Canvas, p Panel, res []Result) {
	all := seriesOf(res)
	if len(all) == 0 {
		noData(c)
		return
	}
	unit := p.FieldConfig.Defaults.Unit
	vals := make([]float64, len(all))
	hi := math.Inf(-1)
	for i, s := range all {
		v, ok := lastNotNull(s.s.V)
		if !ok {
			v = math.NaN()
		} else {
			hi = math.Max(hi, v)
		}
		vals[i] = v
	}
	lo := 0.0
	if mn := p.FieldConfig.Defaults.Min; mn != nil {
		lo = *mn
	}
	if mx := p.FieldConfig.Defaults.Max; mx != nil {
		hi = *mx
	}
	if !(hi > lo) {
		hi = lo + 1
	}
	// The bars share the panel's height, as Grafana's do.
	rowH := float64(c.Size().Y) / float64(len(all))
	nameW := c.Size().X * 0.42
	valW := vg.Length(70)
	nst := style(11, textColor, draw.XLeft, draw.YCenter)
	for i, s := range all {
		yc := c.Max.Y - vg.Length(rowH*(float64(i)+0.5))
		c.FillText(nst, vg.Point{X: c.Min.X + 2, Y: yc}, fit(nst, s.name, nameW-8))
		x0, x1 := c.Min.X+nameW, c.Max.X-valW
		bh := vg.Length(math.Min(rowH*0.6, 44))
		if p.Options.ShowUnfilled == nil || *p.Options.ShowUnfilled {
			fillRect(c.Canvas, rect(x0, yc-bh/2, x1, yc+bh/2), hex("#22252b"))
		}
		v := vals[i]
		if math.IsNaN(v) {
			c.FillText(style(12, dimColor, draw.XRight, draw.YCenter), vg.Point{X: c.Max.X - 2, Y: yc}, "-")
			continue
		}
		col, _ := thresholdColor(p, v)
		frac := math.Max(0, math.Min(1, (v-lo)/(hi-lo)))
		xe := x0 + (x1-x0)*vg.Length(frac)
		if p.Options.DisplayMode == "gradient" {
			// From faint to the value's colour, as Grafana's gradient mode.
			// Whole-pixel columns, so no seams between them.
			px0, px1 := math.Round(float64(x0)), math.Round(float64(xe))
			y0, y1 := vg.Length(math.Round(float64(yc-bh/2))), vg.Length(math.Round(float64(yc+bh/2)))
			for x := px0; x < px1; x++ {
				a := 0.3 + 0.7*(x-px0+1)/math.Max(px1-px0, 1)
				cc := color.NRGBA{uint8(float64(col.R) * a), uint8(float64(col.G) * a), uint8(float64(col.B) * a), 255}
				fillRect(c.Canvas, rect(vg.Length(x), y0, vg.Length(x+1), y1), cc)
			}
		} else {
			fillRect(c.Canvas, rect(x0, yc-bh/2, xe, yc+bh/2), col)
		}
		c.FillText(style(13, col, draw.XRight, draw.YCenter), vg.Point{X: c.Max.X - 2, Y: yc}, FormatValue(v, unit))
	}
}

func drawStateTimeline(c draw.Canvas, p Panel, env *Env, res []Result) {
	all := seriesOf(res)
	if len(all) == 0 {
		noData(c)
		return
	}
	// The states' legend along the bottom.
	var keys []string
	maps := map[string]struct{ text, color string }{}
	for _, m := range p.FieldConfig.Defaults.Mappings {
		for k, o := range m.Options {
			keys = append(keys, k)
			maps[k] = struct{ text, color string }{o.Text, o.Color}
		}
	}
	sort.Strings(keys)
	lx := c.Min.X + 4
	lst := style(10.5, textColor, draw.XLeft, draw.YCenter)
	for _, k := range keys {
		fillRect(c.Canvas, rect(lx, c.Min.Y+3, lx+10, c.Min.Y+11), grafanaColor(maps[k].color))
		c.FillText(lst, vg.Point{X: lx + 14, Y: c.Min.Y + 7}, maps[k].text)
		lx += 24 + lst.Width(maps[k].text)
	}
	axisH := vg.Length(16)
	area := rect(c.Min.X, c.Min.Y+18+axisH, c.Max.X, c.Max.Y)
	nameW := vg.Length(150)
	x0, x1 := area.Min.X+nameW, area.Max.X
	from, to := float64(env.From.Unix()), float64(env.To.Unix())
	xOf := func(t float64) vg.Length { return x0 + (x1-x0)*vg.Length((t-from)/(to-from)) }
	laneH := math.Min(float64(area.Size().Y)/float64(len(all)), 40)
	nst := style(11, textColor, draw.XLeft, draw.YCenter)
	for i, s := range all {
		yc := area.Max.Y - vg.Length(laneH*(float64(i)+0.5))
		c.FillText(nst, vg.Point{X: area.Min.X + 2, Y: yc}, fit(nst, s.name, nameW-8))
		bh := vg.Length(laneH * 0.8)
		// Runs of one value are one box, with the state's name if it fits.
		for k := 0; k < len(s.s.T); {
			j := k
			for j+1 < len(s.s.T) && s.s.V[j+1] == s.s.V[k] && s.s.T[j+1]-s.s.T[j] <= 2*env.Interval.Seconds() {
				j++
			}
			end := math.Min(s.s.T[j]+env.Interval.Seconds(), to)
			col, txt := thresholdColor(p, s.s.V[k])
			if txt == "" {
				txt = FormatValue(s.s.V[k], p.FieldConfig.Defaults.Unit)
			}
			r := rect(max(xOf(s.s.T[k]), x0), yc-bh/2, xOf(end), yc+bh/2)
			fillRect(c.Canvas, r, col)
			tst := style(11, color.NRGBA{255, 255, 255, 255}, draw.XCenter, draw.YCenter)
			if tst.Width(txt)+8 < r.Size().X {
				c.FillText(tst, vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: yc}, txt)
			}
			k = j + 1
		}
	}
	tst := style(10, dimColor, draw.XCenter, draw.YCenter)
	for _, t := range (timeTicks{}).Ticks(from, to) {
		c.FillText(tst, vg.Point{X: xOf(t.Value), Y: area.Min.Y - axisH/2}, t.Label)
	}
}

func drawTable(c draw.Canvas, p Panel, res []Result) {
	all := seriesOf(res)
	if len(all) == 0 {
		noData(c)
		return
	}
	seen := map[string]bool{}
	var cols []string
	for _, s := range all {
		for k := range s.s.Labels {
			if !seen[k] && k != "__name__" {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	sort.Strings(cols)
	cols = append(cols, "Value")
	cw := c.Size().X / vg.Length(len(cols))
	rowH := vg.Length(16)
	hst := style(11, dimColor, draw.XLeft, draw.YCenter)
	cst := style(11, textColor, draw.XLeft, draw.YCenter)
	y := c.Max.Y - rowH/2
	for j, k := range cols {
		c.FillText(hst, vg.Point{X: c.Min.X + cw*vg.Length(j) + 2, Y: y}, fit(hst, k, cw-4))
	}
	for _, s := range all {
		y -= rowH
		if y < c.Min.Y+rowH/2 {
			break
		}
		for j, k := range cols {
			txt := s.s.Labels[k]
			if k == "Value" {
				txt = "-"
				if v, ok := lastNotNull(s.s.V); ok {
					txt = FormatValue(v, p.FieldConfig.Defaults.Unit)
				}
			}
			c.FillText(cst, vg.Point{X: c.Min.X + cw*vg.Length(j) + 2, Y: y}, fit(cst, txt, cw-4))
		}
	}
}
