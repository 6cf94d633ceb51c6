// Package completion finds what a shell completion offers: topic, group,
// queue and file names, filtered by the word being completed and by whether
// a terminal would show them as they are, within a time bound, and (tree.go)
// which of them each command's arguments and flags offer.
package completion

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
)

// Kind is what a command's argument or a flag's value names.
type Kind int

// The kinds of names a completion offers.
const (
	None      Kind = iota
	Addresses      // kafka:TOPIC, amqp:QUEUE, file:PATH
	Brokers        // kafka:TOPIC, amqp:QUEUE, and the bare kafka: / amqp:
	Transport      // only kafka: and amqp:
	Groups         // consumer group names, kafka:, amqp:, amqp:QUEUE
	Contexts       // context names from the config file
	Trace          // an id first (nothing to offer), then addresses
	Subjects       // a Schema Registry's subjects
)

// Sources are where names come from. Any of them may fail: that offers
// nothing.
type Sources struct {
	Contexts func() ([]string, error)
	Kafka    func(...kafka.Option) (*kafka.Client, error)
	AMQP     func(...amqp.Option) (*amqp.Client, error)
	// Subjects lists the Schema Registry's subjects; nil when none is
	// configured.
	Subjects func(context.Context) ([]string, error)
}

// Candidates returns the names of kind that start with toComplete, and
// whether the shell should add no space after the one it picks (a scheme,
// a directory: the word goes on). Brokers are asked within ctx.
func Candidates(ctx context.Context, src Sources, kind Kind, toComplete string) (names []string, noSpace bool) {
	switch kind {
	case Contexts:
		names, err := src.Contexts()
		if err != nil {
			return nil, false
		}
		return Prefixed(names, "", toComplete), false
	case Transport:
		return Prefixed([]string{"kafka:", "amqp:"}, "", toComplete), false
	case Groups:
		if strings.HasPrefix(toComplete, "amqp:") {
			return address(ctx, src, toComplete, false)
		}
		out := Prefixed([]string{"kafka:", "amqp:"}, "", toComplete)
		if !strings.Contains(toComplete, ":") {
			out = append(out, withTimeout(ctx, func(ctx context.Context) []string { return kafkaGroups(ctx, src.Kafka) }, toComplete)...)
		}
		return out, false
	case Addresses, Brokers:
		return address(ctx, src, toComplete, kind == Addresses)
	case Subjects:
		if src.Subjects == nil {
			return nil, false
		}
		return withTimeout(ctx, func(ctx context.Context) []string {
			names, err := src.Subjects(ctx)
			if err != nil {
				return nil
			}
			return names
		}, toComplete), false
	}
	return nil, false
}

// address completes kafka:TOPIC, amqp:QUEUE and (when files is set)
// file:PATH; before the colon it offers the transports.
func address(ctx context.Context, src Sources, toComplete string, files bool) ([]string, bool) {
	scheme, _, found := strings.Cut(toComplete, ":")
	if !found {
		schemes := []string{"kafka:", "amqp:"}
		if files {
			schemes = append(schemes, "file:")
		}
		// No space after a scheme: the name follows it directly.
		return Prefixed(schemes, "", toComplete), true
	}
	switch scheme {
	case "kafka":
		return withTimeout(ctx, func(ctx context.Context) []string { return kafkaTopics(ctx, src.Kafka) }, toComplete), false
	case "amqp":
		return withTimeout(ctx, func(ctx context.Context) []string { return amqpQueues(ctx, src.AMQP) }, toComplete), false
	case "file":
		if files {
			return listFiles(strings.TrimPrefix(toComplete, "file:")), true
		}
	}
	return nil, false
}

// withTimeout runs list in the background and gives up when ctx ends, so a
// client that ignores its context still cannot hold the shell; the results are
// filtered by prefix.
func withTimeout(ctx context.Context, list func(context.Context) []string, toComplete string) []string {
	done := make(chan []string, 1) // buffered: an abandoned lister still finishes
	go func() { done <- list(ctx) }()
	select {
	case names := <-done:
		return Prefixed(names, "", toComplete)
	case <-ctx.Done():
		return nil
	}
}

// kafkaTopics lists the cluster's topics as kafka: addresses; nothing on
// any failure.
func kafkaTopics(ctx context.Context, open func(...kafka.Option) (*kafka.Client, error)) []string {
	c, err := open()
	if err != nil {
		return nil
	}
	defer c.Close()
	topics, err := c.Topics(ctx, false)
	if err != nil {
		return nil
	}
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = "kafka:" + t.Name
	}
	return out
}

// kafkaGroups lists the cluster's consumer groups; nothing on any failure.
func kafkaGroups(ctx context.Context, open func(...kafka.Option) (*kafka.Client, error)) []string {
	c, err := open()
	if err != nil {
		return nil
	}
	defer c.Close()
	groups, err := c.Groups(ctx)
	if err != nil {
		return nil
	}
	return groups
}

// amqpQueues lists the broker's queues as amqp: addresses, sorted;
// nothing on any failure.
func amqpQueues(ctx context.Context, open func(...amqp.Option) (*amqp.Client, error)) []string {
	c, err := open()
	if err != nil {
		return nil
	}
	defer func() { _ = c.Close() }()
	qs, err := c.Queues(ctx, nil)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(qs))
	for _, q := range qs {
		out = append(out, "amqp:"+q.Name)
	}
	slices.Sort(out)
	return out
}

// listFiles lists the directory entries that start with partial, as
// file: addresses; directories end in / so completion can go on into them.
func listFiles(partial string) []string {
	dir, base := filepath.Split(partial)
	readDir := dir
	if readDir == "" {
		readDir = "."
	}
	entries, err := os.ReadDir(readDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		if e.IsDir() {
			name += "/"
		}
		out = append(out, "file:"+dir+name)
	}
	return out
}

// Prefixed returns prefix+name for each name that, so prefixed, starts with
// toComplete. Names that would drive a terminal are left out rather than
// escaped: an escaped name would not be the real name on the command line.
func Prefixed(names []string, prefix, toComplete string) []string {
	var out []string
	for _, n := range names {
		s := prefix + n
		if strings.HasPrefix(s, toComplete) && printable(s) {
			out = append(out, s)
		}
	}
	return out
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\t' {
			return false
		}
	}
	return true
}
