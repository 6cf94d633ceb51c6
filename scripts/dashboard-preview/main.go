// Command dashboard-preview draws what a Grafana dashboard shows, from the
// dashboard's own queries against a Prometheus, as a PNG: eddy's README
// carries one of monitoring/grafana/eddy-serve.json made this way, because
// no Grafana runs on the project's machines. It is a preview, not Grafana:
// the layout (gridPos), queries, legends, units, thresholds and value
// mappings are the dashboard's; the look is an approximation.
//
//	dashboard-preview -dashboard monitoring/grafana/eddy-serve.json \
//	  -prometheus http://127.0.0.1:9090 -from 1767000000 -to 1767000600 -out dashboard.png
//
// scripts/dashboard-preview.sh runs it against eddy serve on the demo.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dashboard-preview:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fl := flag.NewFlagSet("dashboard-preview", flag.ContinueOnError)
	dash := fl.String("dashboard", "monitoring/grafana/eddy-serve.json", "the Grafana dashboard JSON")
	prom := fl.String("prometheus", "http://127.0.0.1:9090", "Prometheus's base URL (loopback only)")
	fromS := fl.String("from", "", "range start, unix seconds (default: -to minus 10 minutes)")
	toS := fl.String("to", "", "range end, unix seconds (default: now)")
	scrape := fl.Duration("scrape-interval", 15*time.Second, "the data source's scrape interval (Grafana's minimum step)")
	width := fl.Int("width", 1600, "image width in pixels")
	out := fl.String("out", "dashboard.png", "the PNG to write")
	source := fl.String("source", "", "a line for the caption: where the data came from")
	if err := fl.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*prom)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("-prometheus %q: want http://127.0.0.1:PORT", *prom)
	}
	if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
		return fmt.Errorf("-prometheus %q: only a loopback address", *prom)
	}
	to := time.Now().Truncate(time.Second)
	if *toS != "" {
		if to, err = unixFlag("-to", *toS); err != nil {
			return err
		}
	}
	from := to.Add(-10 * time.Minute)
	if *fromS != "" {
		if from, err = unixFlag("-from", *fromS); err != nil {
			return err
		}
	}
	d, err := LoadDashboard(*dash)
	if err != nil {
		return err
	}
	// A half-width panel is about this many pixels wide: Grafana's
	// maxDataPoints for it.
	env, err := NewEnv(d, from, to, *width/2-60, *scrape)
	if err != nil {
		return err
	}
	qs, err := env.Queries(d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := &promClient{base: u.String(), hc: &http.Client{Timeout: 30 * time.Second}}
	results := make(map[int][]Result)
	for _, q := range qs {
		ss, err := c.Run(ctx, env, q)
		if err != nil {
			return fmt.Errorf("panel %q query %s: %w", d.Panels[q.Panel].Title, q.RefID, err)
		}
		results[q.Panel] = append(results[q.Panel], Result{Query: q, Series: ss})
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := Render(f, d, env, results, *width, *dash, *source); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func unixFlag(name, s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want unix seconds", name, s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// Result is what one query of a panel returned.
type Result struct {
	Query  Query
	Series []Series
}
