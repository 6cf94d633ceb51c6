package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Series is one result series: its labels and (time, value) samples; an
// instant query's series has one sample.
type Series struct {
	Labels map[string]string
	T      []float64 // unix seconds
	V      []float64
}

type promClient struct {
	base string
	hc   *http.Client
}

type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
			Values [][]any           `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func (c *promClient) get(ctx context.Context, path string, q url.Values) ([]Series, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: HTTP %d, not a Prometheus answer", path, resp.StatusCode)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s: %s", path, r.ErrorType, r.Error)
	}
	var out []Series
	for _, res := range r.Data.Result {
		s := Series{Labels: res.Metric}
		pairs := res.Values
		if res.Value != nil {
			pairs = [][]any{res.Value}
		}
		for _, p := range pairs {
			if len(p) != 2 {
				continue
			}
			ts, ok1 := p[0].(float64)
			vs, ok2 := p[1].(string)
			if !ok1 || !ok2 {
				continue // a native histogram sample, not a float: not drawn
			}
			v, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				continue
			}
			s.T, s.V = append(s.T, ts), append(s.V, v)
		}
		out = append(out, s)
	}
	return out, nil
}

func unixArg(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// Run runs q as Grafana would over env's range: an instant query at the
// range's end, or a range query with $__interval as the step.
func (c *promClient) Run(ctx context.Context, env *Env, q Query) ([]Series, error) {
	v := url.Values{"query": {q.Expr}}
	if q.Instant {
		v.Set("time", unixArg(env.To))
		return c.get(ctx, "/api/v1/query", v)
	}
	// Grafana aligns the range to the step.
	step := env.Interval
	start := env.From.Truncate(step)
	v.Set("start", unixArg(start))
	v.Set("end", unixArg(env.To))
	v.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	return c.get(ctx, "/api/v1/query_range", v)
}
