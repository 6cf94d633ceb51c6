package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/replay"
)

// workerFlagHelp is --worker's help, shared by redrive and replay.
const workerFlagHelp = "this process's name among the job's workers (Kafka transactional path): processes of one job under distinct names share its partitions; rerun a killed worker under its name to take its place at once (default HOSTNAME-PID)"

// maxWorker bounds a worker's name: with the job's group name it makes the
// transactional id.
const maxWorker = 100

// bindWorkerFlag binds --worker.
func bindWorkerFlag(fl *pflag.FlagSet, worker *string) {
	fl.StringVar(worker, "worker", "", workerFlagHelp)
}

// resolveWorker checks --worker, or makes the default name: the host's name
// and the process id, distinct for every process of the job.
func resolveWorker(flag string) (string, error) {
	if flag != "" {
		if len(flag) > maxWorker || replay.CheckJobName(flag) != nil {
			return "", safeUsagef("--worker %q: a worker name is 1 to %d letters, digits, '.', '_' and '-', not dots alone", flag, maxWorker)
		}
		return flag, nil
	}
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, host)
	if len(host) > maxWorker-12 {
		host = host[:maxWorker-12]
	}
	if host == "" {
		host = "worker"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid()), nil
}
