package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// logMemStats appends the Go heap to path every interval, as CSV
// (unix_seconds,heap_alloc,heap_inuse,heap_objects,num_gc), until stop: the
// soak test's view of a long live trace (bench/soak.sh), enabled by
// EDDY_TRACE_MEMSTATS=FILE ("" logs nothing). It costs one ReadMemStats per
// interval.
func logMemStats(path string, every time.Duration) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("EDDY_TRACE_MEMSTATS: %w", err)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Fprintf(w, "%d,%d,%d,%d,%d\n", time.Now().Unix(), m.HeapAlloc, m.HeapInuse, m.HeapObjects, m.NumGC)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		w.Close()
	}, nil
}
