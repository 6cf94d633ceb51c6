package main

import (
	"bufio"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/trace"
)

// expect --for-id: judge only the flows the named events started.

func bindForID(fl *pflag.FlagSet, ids *[]string, wait *time.Duration) {
	fl.StringArrayVar(ids, "for-id", nil, "judge only the flows of the event with this id (repeatable; @FILE reads ids one per line, @- from stdin, as eddy send --print-id writes them); live sources are followed until those flows settle")
	fl.DurationVar(wait, "wait", 0, "with --for-id on brokers: how long to wait for the flows to settle (default: the longest 'within' plus 5s, or 30s)")
}

// readForIDs expands --for-id's values: an id, or @FILE / @- with one id
// per line (blank lines skipped).
func readForIDs(vals []string, stdin io.Reader) ([]string, error) {
	var ids []string
	for _, v := range vals {
		path, ok := strings.CutPrefix(v, "@")
		if !ok {
			if v == "" {
				return nil, usagef("--for-id: empty id")
			}
			ids = append(ids, v)
			continue
		}
		var r io.Reader = stdin
		if path != "-" {
			fh, err := os.Open(path)
			if err != nil {
				return nil, safeUsagef("--for-id %s: %v", v, err)
			}
			defer fh.Close()
			r = fh
		}
		sc := bufio.NewScanner(r)
		n := 0
		for sc.Scan() {
			if id := strings.TrimSpace(sc.Text()); id != "" {
				ids = append(ids, id)
				n++
			}
		}
		if err := sc.Err(); err != nil {
			return nil, safeUsagef("--for-id %s: %v", v, err)
		}
		if n == 0 {
			return nil, safeUsagef("--for-id %s: no id in it (did the send before it fail?)", v)
		}
	}
	return ids, nil
}

// forIDWait is --wait, or its default: the longest deadline of the
// expectations and 5 s more for the events to be read, or 30 s when none
// has a deadline.
func forIDWait(wait time.Duration, exps []trace.Expectation) time.Duration {
	if wait > 0 {
		return wait
	}
	var longest time.Duration
	for _, e := range exps {
		longest = max(longest, e.Within)
	}
	if longest == 0 {
		return 30 * time.Second
	}
	return longest + 5*time.Second
}
