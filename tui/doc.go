// Package tui is eddy's interactive terminal UI (eddy tui): sources, a live
// tail, one event's envelope, its trace, consumer lag, dead-letter queues and
// contexts, in one bubbletea program.
//
// The TUI has no logic of its own that the commands lack: it reads through
// bus (the same sources eddy tail opens), filters with inspect's filter
// language, renders every untrusted byte through inspect's terminal-safe
// rendering, correlates with package trace, samples lag with inspect's
// LagMonitor and summarizes dead letters with package dlq.
//
// Shape (soft-serve's): only the root Model implements tea.Model; each view
// is a plain struct that shares a *Common (size, styles, keys) and exposes
// update, view and help. Streams enter as batched messages (up to
// Options.BatchMax events or one flush interval per message), so at most one
// frame per flush interval is drawn however fast events arrive; events live in
// a bounded ring buffer whose drops are counted on the status bar. Timers are
// messages too, so tests send ticks instead of sleeping.
package tui
