package main

import "github.com/eddy-sh/eddy/inspect"

// The tests' names for the JSON forms the commands print, now rendered in
// inspect.
type (
	dlqJSON       = inspect.DLQList
	ledgerJobJSON = inspect.LedgerJob
	redriveReport = inspect.RedriveReport
	replayReport  = inspect.ReplayReport
)
