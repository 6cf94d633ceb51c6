package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ConfigHelp documents eddy serve's --config file.
const ConfigHelp = `CONFIG FILE (--config, YAML; flags given on the command line win):

  listen: 127.0.0.1:9309        # the metrics endpoint
  interval: 15s                 # lag and DLQ sampling, OTLP push
  flow-timeout: 5m              # a flow quiet this long is finalised (memory bound)
  from: end                     # where live ingest starts: end (default), beginning, a time, -10m
  otlp: http://collector:4318   # also push every metric with OTLP/HTTP
  otlp-spans: grpc://collector:4317  # flows as spans when a group may split them
  spans: auto                   # or always
  max-edges: 50                 # distinct edges per histogram before "other"
  max-reasons: 10               # distinct reasons per DLQ before "other"
  clusters:                     # default: one, the current context's ("default" without one)
    - name: prod                # the cluster label
      context: prod             # an eddy config context (default: the one in force)
      sources: [kafka:/.*/]     # what flows are read from (default: every topic)
      lag: [kafka:]             # eddy lag's targets (default: every group and queue configured)
      no-lag: false
      no-flows: false
      dlqs: [kafka:orders.DLT, amqp:orders.dlq]
      group: eddy-serve-prod    # share the flow work with the instances of this group (--group)
      session-timeout: 45s      # the group's wait for a dead instance before its partitions move
  flows:
    - name: checkout
      steps: OrderPlaced -> PaymentAuthorized -> OrderShipped
  expect:
    - name: ships-in-5s
      rule: OrderPlaced -> OrderShipped within 5s`

// FileConfig is eddy serve's --config file.
type FileConfig struct {
	Listen      string          `yaml:"listen"`
	Interval    time.Duration   `yaml:"interval"`
	FlowTimeout time.Duration   `yaml:"flow-timeout"`
	From        string          `yaml:"from"`
	OTLP        string          `yaml:"otlp"`
	OTLPSpans   string          `yaml:"otlp-spans"`
	Spans       string          `yaml:"spans"`
	MaxEdges    int             `yaml:"max-edges"`
	MaxReasons  int             `yaml:"max-reasons"`
	Clusters    []ClusterConfig `yaml:"clusters"`
	Flows       []struct {
		Name  string `yaml:"name"`
		Steps string `yaml:"steps"`
	} `yaml:"flows"`
	Expect []struct {
		Name string `yaml:"name"`
		Rule string `yaml:"rule"`
	} `yaml:"expect"`
}

// ClusterConfig is one cluster of the file.
type ClusterConfig struct {
	Name    string   `yaml:"name"`
	Context string   `yaml:"context"`
	Sources []string `yaml:"sources"`
	Lag     []string `yaml:"lag"`
	NoLag   bool     `yaml:"no-lag"`
	NoFlows bool     `yaml:"no-flows"`
	DLQs    []string `yaml:"dlqs"`
	Group   string   `yaml:"group"`
	// SessionTimeout is the group's session timeout (--session-timeout;
	// 0: the client's default, 45 s).
	SessionTimeout time.Duration `yaml:"session-timeout"`
}

// LoadConfig reads and checks the file at path; errors name the file (and
// the line, for YAML's).
func LoadConfig(path string) (*FileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %v", err)
	}
	return ParseConfig(b, path)
}

// ParseConfig parses a config file's bytes; name is the file's, for errors.
func ParseConfig(b []byte, name string) (*FileConfig, error) {
	var c FileConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %s", name, yamlError(err))
	}
	if c.Interval < 0 || c.FlowTimeout < 0 {
		return nil, fmt.Errorf("%s: interval and flow-timeout must be positive", name)
	}
	if c.MaxEdges < 0 || c.MaxReasons < 0 {
		return nil, fmt.Errorf("%s: max-edges and max-reasons must be positive", name)
	}
	seen := map[string]bool{}
	for i, cl := range c.Clusters {
		n := cl.Name
		if n == "" {
			n = cl.Context
		}
		if n == "" {
			n = "default"
		}
		if seen[n] {
			return nil, fmt.Errorf("%s: clusters[%d]: cluster %q twice (give each a name)", name, i, n)
		}
		seen[n] = true
		if cl.SessionTimeout < 0 || cl.SessionTimeout > 0 && cl.Group == "" {
			return nil, fmt.Errorf("%s: clusters[%d]: session-timeout %v: want a positive duration, with a group", name, i, cl.SessionTimeout)
		}
		c.Clusters[i].Name = n
	}
	for i, f := range c.Flows {
		if f.Steps == "" {
			return nil, fmt.Errorf("%s: flows[%d]: no steps (want steps: A -> B -> C)", name, i)
		}
	}
	for i, e := range c.Expect {
		if e.Rule == "" {
			return nil, fmt.Errorf("%s: expect[%d]: no rule (want rule: A -> B within 5s)", name, i)
		}
	}
	return &c, nil
}

// FlowDefs returns the file's flow definitions, checked.
func (c *FileConfig) FlowDefs(name string) ([]FlowDef, error) {
	var out []FlowDef
	for i, f := range c.Flows {
		spec := f.Steps
		if f.Name != "" {
			spec = f.Name + "=" + spec
		}
		d, err := ParseFlowDef(spec)
		if err != nil {
			return nil, fmt.Errorf("%s: flows[%d]: %v", name, i, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Rules returns the file's expect rules, checked.
func (c *FileConfig) Rules(name string) ([]Rule, error) {
	var out []Rule
	for i, e := range c.Expect {
		spec := e.Rule
		if e.Name != "" {
			spec = e.Name + "=" + spec
		}
		r, err := ParseRule(spec)
		if err != nil {
			return nil, fmt.Errorf("%s: expect[%d]: %v", name, i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

var notFound = regexp.MustCompile(`field (\S+) not found in type .*`)

// yamlError is err on one line, without the Go types YAML names.
func yamlError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = strings.TrimPrefix(s, "unmarshal errors:\n")
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, notFound.ReplaceAllString(l, "unknown key $1"))
		}
	}
	return strings.Join(lines, "; ")
}
