// Package monitoring holds what ships beside `eddy serve` for a monitoring
// system: the Grafana dashboard (grafana/eddy-serve.json) and the Prometheus
// recording and alerting rules (prometheus/eddy-alerts.yml, with their
// promtool unit tests in prometheus/eddy-alerts_test.yml). They are embedded
// so that eddy can hand them out; the files in the repository are what a
// user imports.
//
// Its tests check them against the metric contract of eddy serve: every
// metric name the dashboard and the rules read is one eddy exports, every
// dashboard query answers against a real Prometheus scraping those metrics,
// and promtool checks the rules and runs their unit tests.
package monitoring

import _ "embed"

// Dashboard is the Grafana dashboard JSON (import it, or provision it from
// the file).
//
//go:embed grafana/eddy-serve.json
var Dashboard []byte

// AlertRules is the Prometheus rules file: SLO recording rules and alerts on
// lag in seconds, SLO burn rate, DLQ inflow, stalled groups and eddy itself.
//
//go:embed prometheus/eddy-alerts.yml
var AlertRules []byte
