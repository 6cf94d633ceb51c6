package lag

import (
	"bytes"
	"compress/flate"
	"hash/crc32"
	"io"
	"net/http"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// The lag figures change once per sample, not per scrape: with a thousand
// partitions, making their twelve thousand constant gauges, checking and
// sorting them and encoding them again at every scrape was most of a
// scrape's 50 ms. So UpdateCluster gathers them once (the registry's own
// Gather: the same families, checks and order as before), each exposition
// format a scrape asks for is encoded once per family (and compressed, for
// gzip), and a scrape writes those bytes between the live families of the
// other gatherer (eddy serve's flows), encoded as promhttp would.

// maxEncodings bounds the formats kept encoded (format × escaping scheme:
// a few dozen exist; a scraper asks for one).
const maxEncodings = 16

// gathered is one gathering of the lag metrics and its encodings.
type gathered struct {
	fams []*dto.MetricFamily // sorted by name; read-only once stored
	err  error

	mu   sync.Mutex
	encs map[expfmt.Format]*encoding
}

// encoding is each family of a gathering in one exposition format.
type encoding struct {
	raw [][]byte // per family: what the format's encoder writes for it
	// z is raw compressed, per family: DEFLATE data ending on a sync
	// flush (byte-aligned, not final), so that segments made apart join
	// into one DEFLATE stream. nil until a scrape asks for gzip.
	z [][]byte
}

// encoding returns the families encoded in f (compressed too when gz),
// made now if no scrape asked for f since the update.
func (g *gathered) encoding(f expfmt.Format, gz bool) (*encoding, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.encs[f]
	if e == nil {
		e = &encoding{raw: make([][]byte, len(g.fams))}
		for i, mf := range g.fams {
			var b bytes.Buffer
			if err := expfmt.NewEncoder(&b, f).Encode(mf); err != nil {
				return nil, err
			}
			e.raw[i] = b.Bytes()
		}
		if len(g.encs) < maxEncodings {
			g.encs[f] = e
		}
	}
	if gz && e.z == nil {
		z := make([][]byte, len(e.raw))
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, flate.DefaultCompression)
		for i, raw := range e.raw {
			fw.Reset(&b)
			if _, err := fw.Write(raw); err != nil {
				return nil, err
			}
			if err := fw.Flush(); err != nil {
				return nil, err
			}
			z[i] = bytes.Clone(b.Bytes())
			b.Reset()
		}
		e.z = z
	}
	return e, nil
}

// regather gathers the lag figures and encodes them in the formats scrapes
// asked for, then makes them what scrapes read.
func (m *LagMetrics) regather() {
	// One at a time: the gathering stored last reads every update made
	// before it.
	m.gathering.Lock()
	defer m.gathering.Unlock()
	fams, err := m.reg.Gather()
	g := &gathered{fams: fams, err: err, encs: map[expfmt.Format]*encoding{}}
	for f, gz := range m.lately() {
		// An error is met again, and handled, by the scrape.
		_, _ = g.encoding(f, gz)
	}
	m.cur.Store(g)
}

// Gather returns the lag metrics as gathered at the last update (the
// families are shared: a caller must not change them). It makes
// LagMetrics a prometheus.Gatherer.
func (m *LagMetrics) Gather() ([]*dto.MetricFamily, error) {
	g := m.cur.Load()
	return slices.Clone(g.fams), g.err
}

// ScrapeOptions configure HandlerWith.
type ScrapeOptions struct {
	// Live is gathered at each scrape and served beside the lag metrics
	// (eddy serve's flow metrics). Its families' names must differ from
	// the lag metrics' (a scrape that finds one in both is served the
	// slow way, merged as prometheus.Gatherers merges).
	Live prometheus.Gatherer
	// EnableOpenMetrics offers OpenMetrics in content negotiation (as
	// promhttp.HandlerOpts' option).
	EnableOpenMetrics bool
}

// HandlerWith serves the lag metrics and o.Live's in every exposition
// format promhttp serves, with gzip when asked: the same bytes as
// promhttp.HandlerFor(prometheus.Gatherers{m.Registry(), o.Live}, …)
// with ContinueOnError would write, without redoing the lag metrics'
// share at each scrape.
func (m *LagMetrics) HandlerWith(o ScrapeOptions) http.Handler {
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, EnableOpenMetrics: o.EnableOpenMetrics}
	gs := prometheus.Gatherers{m}
	if o.Live != nil {
		gs = append(gs, o.Live)
	}
	return &scrapeHandler{m: m, live: o.Live,
		// promhttp itself, over no metrics, negotiates format and
		// compression and sets the headers: the same answers as it
		// would give, without copying its rules.
		probe: promhttp.HandlerFor(prometheus.Gatherers{}, opts),
		slow:  promhttp.HandlerFor(gs, opts),
	}
}

type scrapeHandler struct {
	m           *LagMetrics
	live        prometheus.Gatherer
	probe, slow http.Handler
}

// headerProbe keeps the headers the probe sets and drops its body.
type headerProbe http.Header

func (p headerProbe) Header() http.Header       { return http.Header(p) }
func (headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (headerProbe) WriteHeader(int)             {}

// item is one family of a scrape, in order: lag family i, or live.
type item struct {
	lag  int
	live *dto.MetricFamily
}

func (h *scrapeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := h.m.cur.Load()
	var live []*dto.MetricFamily
	if h.live != nil {
		var err error
		if live, err = h.live.Gather(); err != nil {
			// promhttp's ways with errors (ContinueOnError) apply.
			h.slow.ServeHTTP(w, r)
			return
		}
	}
	if g.err != nil {
		h.slow.ServeHTTP(w, r)
		return
	}
	ph := headerProbe{}
	h.probe.ServeHTTP(ph, r)
	gz := false
	switch http.Header(ph).Get("Content-Encoding") {
	case "":
	case "gzip":
		gz = true
	default: // one this handler does not make (zstd)
		h.slow.ServeHTTP(w, r)
		return
	}
	format := expfmt.Format(http.Header(ph).Get("Content-Type"))
	var only map[string]bool
	if r.URL != nil {
		if names := r.URL.Query()["name[]"]; len(names) > 0 {
			only = map[string]bool{}
			for _, n := range names {
				only[n] = true
			}
		}
	}
	// Both lists are sorted by name (a Registry's Gather sorts): merged.
	items := make([]item, 0, len(g.fams)+len(live))
	i, j := 0, 0
	for i < len(g.fams) || j < len(live) {
		switch {
		case j == len(live) || i < len(g.fams) && g.fams[i].GetName() < live[j].GetName():
			if only == nil || only[g.fams[i].GetName()] {
				items = append(items, item{lag: i})
			}
			i++
		case i == len(g.fams) || live[j].GetName() < g.fams[i].GetName():
			if only == nil || only[live[j].GetName()] {
				items = append(items, item{live: live[j]})
			}
			j++
		default: // a name in both: Gatherers merges them, or says why not
			h.slow.ServeHTTP(w, r)
			return
		}
	}
	enc, err := g.encoding(format, gz)
	if err != nil {
		h.slow.ServeHTTP(w, r)
		return
	}
	h.m.ask(format, gz)
	for k, vs := range ph {
		w.Header()[k] = append(w.Header()[k], vs...)
	}
	b := &body{w: w, gz: gz}
	if gz {
		b.begin()
	}
	lw := b.liveWriter()
	le := expfmt.NewEncoder(lw, format)
	for _, it := range items {
		if it.live != nil {
			// An encoding error leaves the family out, as ContinueOnError.
			_ = le.Encode(it.live)
			continue
		}
		if gz {
			b.cached(enc.raw[it.lag], enc.z[it.lag])
		} else {
			b.cached(enc.raw[it.lag], nil)
		}
	}
	if c, ok := le.(expfmt.Closer); ok {
		_ = c.Close() // OpenMetrics' "# EOF"
	}
	b.end()
}

// asked is a format's last scrape: at which update, with gzip or not.
type asked struct {
	update uint64
	gz     bool
}

// askedFor is how many updates a format asked for stays encoded at each
// update without a scrape asking for it again: scrapes come every few
// samples at least, a one-off (curl) stops costing soon.
const askedFor = 4

// ask remembers that a scrape asked for format f (gzip'd when gz), so the
// next updates encode it before a scrape does.
func (m *LagMetrics) ask(f expfmt.Format, gz bool) {
	m.askedMu.Lock()
	defer m.askedMu.Unlock()
	a, ok := m.asked[f]
	if !ok && len(m.asked) >= maxEncodings {
		return
	}
	m.asked[f] = asked{update: m.updates, gz: gz || ok && a.gz && m.updates-a.update < askedFor}
}

// lately counts an update and returns the formats scrapes asked for
// within the last askedFor updates (true: with gzip), forgetting older ones.
func (m *LagMetrics) lately() map[expfmt.Format]bool {
	m.askedMu.Lock()
	defer m.askedMu.Unlock()
	m.updates++
	out := make(map[expfmt.Format]bool, len(m.asked))
	for f, a := range m.asked {
		if m.updates-a.update > askedFor {
			delete(m.asked, f)
			continue
		}
		out[f] = a.gz
	}
	return out
}

// body writes a scrape's response: identity, or one gzip member whose
// DEFLATE stream is segments each ending on a sync flush — the cached
// lag families as compressed at the update, the live ones compressed now
// (a fresh compressor per run: no back-reference crosses a segment) —
// and a final empty block (the way pigz joins blocks).
type body struct {
	w   io.Writer
	gz  bool
	err error

	run  bytes.Buffer // gzip: live bytes not yet compressed
	crc  uint32
	size uint32
}

var flatePool = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.DefaultCompression)
	return fw
}}

func (b *body) write(p []byte) {
	if b.err == nil {
		_, b.err = b.w.Write(p)
	}
}

// liveWriter is where the live families are encoded.
func (b *body) liveWriter() io.Writer {
	if b.gz {
		return &b.run
	}
	return b.w
}

// begin writes the gzip header (as compress/gzip writes it: no name, no
// time, OS unknown).
func (b *body) begin() {
	b.write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255})
}

func (b *body) cached(raw, z []byte) {
	if !b.gz {
		b.write(raw)
		return
	}
	b.flushRun()
	b.crc = crc32.Update(b.crc, crc32.IEEETable, raw)
	b.size += uint32(len(raw))
	b.write(z)
}

// flushRun compresses the live bytes written since the last segment.
func (b *body) flushRun() {
	if b.run.Len() == 0 || b.err != nil {
		return
	}
	p := b.run.Bytes()
	b.crc = crc32.Update(b.crc, crc32.IEEETable, p)
	b.size += uint32(len(p))
	fw := flatePool.Get().(*flate.Writer)
	fw.Reset(errWriter{b})
	_, _ = fw.Write(p)
	_ = fw.Flush()
	fw.Reset(nil)
	flatePool.Put(fw)
	b.run.Reset()
}

// end finishes the gzip member: the last live run, a final empty stored
// block, CRC-32 and size.
func (b *body) end() {
	if !b.gz {
		return
	}
	b.flushRun()
	t := []byte{1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}
	putLE32(t[5:], b.crc)
	putLE32(t[9:], b.size)
	b.write(t)
}

func putLE32(p []byte, v uint32) {
	p[0], p[1], p[2], p[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// errWriter writes through b, keeping its first error.
type errWriter struct{ b *body }

func (e errWriter) Write(p []byte) (int, error) {
	e.b.write(p)
	if e.b.err != nil {
		return 0, e.b.err
	}
	return len(p), nil
}
