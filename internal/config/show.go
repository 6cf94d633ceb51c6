package config

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/eddy-sh/eddy/inspect"
)

// WriteList writes c's contexts as eddy config list shows them: a table of
// name, Kafka brokers and RabbitMQ URL (masked), "*" marking current, every
// cell terminal-safe.
func (c *Config) WriteList(w io.Writer, current string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CURRENT\tNAME\tKAFKA\tAMQP")
	for _, name := range c.Names() {
		ctx := c.Contexts[name].Masked()
		mark := ""
		if name == current {
			mark = "*"
		}
		k, a := "-", "-"
		if ctx.Kafka != nil && len(ctx.Kafka.Brokers) > 0 {
			k = strings.Join(ctx.Kafka.Brokers, ",")
		}
		if ctx.AMQP != nil && ctx.AMQP.URL != "" {
			a = ctx.AMQP.URL
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, inspect.SafeString(name), inspect.SafeString(k), inspect.SafeString(a))
	}
	return tw.Flush()
}

// WriteContext writes the context ctx named name as eddy config show shows
// it: YAML with its secrets masked, terminal-safe.
func WriteContext(w io.Writer, name string, ctx *Context) error {
	b, err := yaml.Marshal(map[string]*Context{name: ctx.Masked()})
	if err != nil {
		return err
	}
	_, err = w.Write([]byte(inspect.SafeText(string(b))))
	return err
}
