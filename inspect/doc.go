// Package inspect is how eddy shows events to people and scripts: the tail loop
// (source -> filter -> printer), the --filter expression language, the output
// formats (pretty, jsonl, raw, template), terminal-safe rendering, and the
// listings of eddy ls.
//
// Terminal safety is this package's contract: every byte of untrusted data
// (payloads, keys, headers, topic and queue names) that pretty, template and
// table output show is passed through AppendSafe, so control and escape
// sequences, C1 controls, bidirectional controls and invalid UTF-8 appear as
// visible escapes and are never acted on by the terminal. The only escape
// sequences eddy writes are its own SGR colours, and only when asked to. Raw
// output is the one exception, by design; see Format.SafeForTerminal.
package inspect
