package config

import (
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/eddy-sh/eddy/inspect"
)

// WriteList writes c's contexts as eddy config list shows them: a table of
// name, Kafka brokers and RabbitMQ URL (masked), "*" marking current, every
// cell terminal-safe.
func (c *Config) WriteList(w io.Writer, current string) error {
	var rows []inspect.ContextRow
	for _, name := range c.Names() {
		ctx := c.Contexts[name].Masked()
		r := inspect.ContextRow{Current: name == current, Name: name, Kafka: "-", AMQP: "-"}
		if ctx.Kafka != nil && len(ctx.Kafka.Brokers) > 0 {
			r.Kafka = strings.Join(ctx.Kafka.Brokers, ",")
		}
		if ctx.AMQP != nil && ctx.AMQP.URL != "" {
			r.AMQP = ctx.AMQP.URL
		}
		rows = append(rows, r)
	}
	return inspect.WriteContexts(w, rows) // the one table type
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
