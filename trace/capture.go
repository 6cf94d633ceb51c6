package trace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/event"
)

// CaptureOptions configure Correlator.ReadCapture.
type CaptureOptions struct {
	// Name is the capture's name in errors (its path).
	Name string
	// Keep, when set, drops the events it returns false for (the --from and
	// --until of a capture). It is called from several goroutines, with
	// events whose Value may be nil (the ids were read without decoding it:
	// event.Decoder.DecodeFields).
	Keep func(*event.Event) bool
	// SkipBad skips malformed lines (counted in CaptureResult.Skipped)
	// instead of stopping at the first.
	SkipBad bool
	// Every, when positive, calls Tick about that often (wall time).
	Every time.Duration
	Tick  func()
	// Workers decode in parallel; 0 means GOMAXPROCS.
	Workers int
}

// CaptureResult is what ReadCapture saw.
type CaptureResult struct {
	// Latest is the latest broker timestamp of the events kept.
	Latest  time.Time
	Skipped int
}

// chunkSize (a variable for tests) is how much of a capture one worker decodes at a time: large
// enough that handing chunks around costs nothing per event, small enough
// that the chunks in flight stay a few MB.
var chunkSize = 1 << 21

// chunk is a run of whole lines of a capture and what a worker made of them.
// Its inputs alias data and dec's buffer, so a chunk is recycled only after
// the Correlator consumed them (and copied what it keeps).
type chunk struct {
	data []byte
	dec  event.Decoder
	ins  []input
	// lines is the number of lines in data; errLine, when err is set, the
	// line (1-based, within the chunk) that failed, ins holding the events
	// before it.
	lines   int
	skipped int
	err     error
	errLine int
	// grouped says the inputs were grouped by flow key (group): gid is
	// each one's group, next the next input of its group (-1: none), and
	// first and last those of each group; keys numbers the groups.
	grouped     bool
	gid, next   []int32
	first, last []int32
	keys        map[string]int32
	done        chan struct{}
}

// ReadCapture correlates every event of a capture (eddy's envelope, one
// event per line) read from r until its end. It is the fast way through a
// large file: the capture is read in line-aligned chunks, decoded on parallel
// workers (event.Decoder, and the schema's fields extracted without copying),
// and the chunks are fed to the Correlator in file order, so the result is
// what Add on each event in turn would give. A malformed line stops it with a
// *file.LineError (the events before it are correlated), unless SkipBad.
func (c *Correlator) ReadCapture(ctx context.Context, r io.Reader, o CaptureOptions) (CaptureResult, error) {
	var res CaptureResult
	if err := c.schema.Compile(); err != nil {
		return res, err
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	inFlight := 2*workers + 2
	ctx, cancel := context.WithCancel(ctx)

	free := make(chan *chunk, inFlight)
	for range inFlight {
		free <- &chunk{data: make([]byte, 0, chunkSize)}
	}
	work := make(chan *chunk, inFlight)
	ordered := make(chan *chunk, inFlight)
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		defer close(ordered)
		readErr = readChunks(ctx, r, free, func(ch *chunk) bool {
			ch.done = make(chan struct{})
			select {
			case work <- ch:
			case <-ctx.Done():
				return false
			}
			select {
			case ordered <- ch:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range work {
				c.decodeChunk(ch, o)
				close(ch.done)
			}
		}()
	}
	// Whatever the way out, stop the reader and the workers first.
	defer func() {
		cancel()
		wg.Wait()
	}()

	line := 0
	lastExpire := time.Now()
	lastTick := lastExpire
	var latest int64
	for ch := range ordered {
		select {
		case <-ch.done:
		case <-ctx.Done():
			return res, ctx.Err()
		}
		c.addChunk(ch, c.cfg.Clock().UnixNano())
		for i := range ch.ins {
			latest = max(latest, ch.ins[i].ts)
		}
		res.Skipped += ch.skipped
		if ch.err != nil {
			res.Latest = fromNano(latest)
			return res, &file.LineError{Path: o.Name, Line: line + ch.errLine, Err: ch.err}
		}
		line += ch.lines
		ch.ins, ch.err, ch.skipped = ch.ins[:0], nil, 0
		ch.dec.Reset()
		free <- ch
		if err := ctx.Err(); err != nil {
			return res, err
		}
		t := time.Now()
		if t.Sub(lastExpire) > time.Second {
			c.Expire()
			lastExpire = t
		}
		if o.Every > 0 && o.Tick != nil && t.Sub(lastTick) >= o.Every {
			c.Expire()
			o.Tick()
			lastTick = t
		}
	}
	res.Latest = fromNano(latest)
	wg.Wait() // the reader is done: readErr is final
	if readErr != nil {
		return res, fmt.Errorf("file: reading %s: %w", o.Name, readErr)
	}
	return res, ctx.Err()
}

// readChunks fills chunks from free with whole lines of r (the last one may
// lack its newline) and hands them to send, in order.
func readChunks(ctx context.Context, r io.Reader, free chan *chunk, send func(*chunk) bool) error {
	var carry []byte
	for {
		var ch *chunk
		select {
		case ch = <-free:
		case <-ctx.Done():
			return nil
		}
		buf := append(ch.data[:0], carry...)
		carry = carry[:0]
		eof := false
		for {
			if len(buf) == cap(buf) {
				if bytes.IndexByte(buf, '\n') >= 0 {
					break
				}
				// A line longer than the chunk: grow it.
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				return err
			}
		}
		if !eof {
			last := bytes.LastIndexByte(buf, '\n')
			carry = append(carry, buf[last+1:]...)
			buf = buf[:last+1]
		}
		ch.data = buf
		if len(buf) > 0 && !send(ch) {
			return nil
		}
		if eof {
			return nil
		}
	}
}

// decodeChunk decodes the lines of ch into inputs; it runs on a worker.
func (c *Correlator) decodeChunk(ch *chunk, o CaptureOptions) {
	data := ch.data
	lines := 0
	var names dlqNames
	for len(data) > 0 {
		var line []byte
		if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
			line, data = data[:nl], data[nl+1:]
		} else {
			line, data = data, nil
		}
		lines++
		// As bus/file reads a capture: CR LF and blank lines are fine.
		for len(line) > 0 && (line[len(line)-1] == '\r' || line[len(line)-1] == '\n') {
			line = line[:len(line)-1]
		}
		if len(line) == 0 || line[0] != '{' && len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, f, err := ch.dec.DecodeFields(line, c.schema)
		if err != nil {
			if o.SkipBad {
				ch.skipped++
				continue
			}
			ch.err, ch.errLine = err, lines
			break
		}
		if o.Keep != nil && !o.Keep(e) {
			continue
		}
		in := makeInput(e, &f, &names)
		in.typ1, in.src1, in.from1 = c.types.lookup(in.typ), c.srcs.lookup(in.source), c.times.lookup(in.atFrom)
		ch.ins = append(ch.ins, in)
	}
	ch.lines = lines
	ch.group()
}

// group groups ch's inputs by flow key when every one has a correlation or
// trace id (see Correlator.addRun), and else sets grouped false.
func (ch *chunk) group() {
	ch.grouped = false
	for i := range ch.ins {
		if ch.ins[i].corr == "" && ch.ins[i].traceID == "" {
			return
		}
	}
	n := len(ch.ins)
	if ch.keys == nil {
		ch.keys = make(map[string]int32, n)
	}
	clear(ch.keys)
	ch.gid = slices.Grow(ch.gid[:0], n)[:n]
	ch.next = slices.Grow(ch.next[:0], n)[:n]
	ch.first, ch.last = ch.first[:0], ch.last[:0]
	for i := range ch.ins {
		k := ch.ins[i].corr
		if k == "" {
			k = ch.ins[i].traceID
		}
		g, ok := ch.keys[k]
		if !ok {
			g = int32(len(ch.first))
			ch.keys[k] = g
			ch.first, ch.last = append(ch.first, int32(i)), append(ch.last, int32(i))
		} else {
			ch.next[ch.last[g]] = int32(i)
			ch.last[g] = int32(i)
		}
		ch.next[i], ch.gid[i] = -1, g
	}
	ch.grouped = true
}

// addChunk correlates ch's inputs at Clock time now: each key's run at
// once (addRun) when the worker grouped them and the Correlator does not
// link yet, else one by one.
func (c *Correlator) addChunk(ch *chunk, now int64) {
	if !ch.grouped || c.linked {
		for i := range ch.ins {
			c.add(&ch.ins[i], now)
		}
		return
	}
	// Names are numbered in the order their events come, as add does.
	for i := range ch.ins {
		c.intern(&ch.ins[i])
	}
	// Runs in the order of their last input: the list of open flows ends
	// as it would.
	for i := range ch.ins {
		if g := ch.gid[i]; ch.last[g] == int32(i) {
			c.addRun(ch.ins, ch.first[g], ch.next, now)
		}
	}
}
