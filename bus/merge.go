package bus

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/eddy-sh/eddy/event"
)

// Merge reads several sources as one. Batches keep each source's own order;
// across sources they interleave as they arrive. Next returns io.EOF once every
// source has, and the first other error of any source.
func Merge(srcs ...Source) Source {
	if len(srcs) == 1 {
		return srcs[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &merged{srcs: srcs, out: make(chan mergedBatch, len(srcs)), cancel: cancel}
	m.wg.Add(len(srcs))
	for _, s := range srcs {
		go m.pump(ctx, s)
	}
	go func() {
		m.wg.Wait()
		close(m.out)
	}()
	return m
}

type merged struct {
	srcs   []Source
	out    chan mergedBatch
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

type mergedBatch struct {
	evs []event.Event
	err error
}

func (m *merged) pump(ctx context.Context, s Source) {
	defer m.wg.Done()
	for {
		evs, err := s.Next(ctx)
		if len(evs) > 0 {
			select {
			case m.out <- mergedBatch{evs: evs}:
			case <-ctx.Done():
				return
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				select {
				case m.out <- mergedBatch{err: err}:
				case <-ctx.Done():
				}
			}
			return
		}
	}
}

func (m *merged) Next(ctx context.Context) ([]event.Event, error) {
	if m.err != nil {
		return nil, m.err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case b, ok := <-m.out:
		if !ok {
			m.err = io.EOF
			return nil, io.EOF
		}
		if b.err != nil {
			m.err = b.err
			m.cancel()
			return nil, b.err
		}
		return b.evs, nil
	}
}

func (m *merged) Close() error {
	var errs []error
	m.once.Do(func() {
		m.cancel()
		for _, s := range m.srcs {
			errs = append(errs, s.Close())
		}
	})
	return errors.Join(errs...)
}
