package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/eddy-sh/eddy/inspect"
)

func newCmdConfig(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Manage named contexts (brokers, credentials, schema)",
		Long: `Manage named contexts in $XDG_CONFIG_HOME/eddy/config.yaml (or $EDDY_CONFIG).

A context names a Kafka cluster and/or a RabbitMQ broker with their TLS and SASL
settings and, optionally, the schema eddy uses to find event ids. Example file:

  current-context: staging
  contexts:
    staging:
      kafka:
        brokers: [kafka-1:9093, kafka-2:9093]
        tls: {ca: /etc/eddy/ca.pem}
        sasl: {mechanism: SCRAM-SHA-512, username: eddy, password-env: STAGING_KAFKA_PASSWORD}
      amqp:
        url: amqps://eddy:secret@rabbit:5671/shop
      schema:
        correlation: [header:x-correlation-id, json:meta.correlation]

Secrets are masked in everything eddy prints; prefer password-env or
password-file to an inline password. The file is written with mode 0600.`,
	}
	cmd.AddCommand(newCmdConfigList(f), newCmdConfigUse(f), newCmdConfigShow(f), newCmdConfigSet(f))
	return cmd
}

func newCmdConfigList(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List contexts; * marks the current one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Config()
			if err != nil {
				return err
			}
			_, current, err := f.CurrentContext()
			if err != nil {
				return err
			}
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
			return inspect.WriteContexts(f.IO.Out, rows)
		},
	}
}

func newCmdConfigUse(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME",
		Short: "Make NAME the current context",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Config()
			if err != nil {
				return err
			}
			if _, ok := c.Contexts[args[0]]; !ok {
				return usagef("context %q is not in %s (eddy config list shows them)", args[0], c.Path())
			}
			c.CurrentContext = args[0]
			if err := c.Save(); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "eddy: now using context %q\n", inspect.SafeString(args[0]))
			return nil
		},
	}
}

func newCmdConfigShow(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "show [NAME]",
		Short: "Print a context (default: the current one) with secrets masked",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Config()
			if err != nil {
				return err
			}
			var ctx *Context
			var name string
			if len(args) == 1 {
				name = args[0]
				var ok bool
				if ctx, ok = c.Contexts[name]; !ok {
					return usagef("context %q is not in %s", name, c.Path())
				}
			} else if ctx, name, err = f.CurrentContext(); err != nil {
				return err
			} else if name == "" {
				return usagef("no current context (eddy config use NAME, or eddy config set NAME ...)")
			}
			b, err := yaml.Marshal(map[string]*Context{name: ctx.Masked()})
			if err != nil {
				return err
			}
			_, err = f.IO.Out.Write([]byte(inspect.SafeText(string(b))))
			return err
		},
	}
}

func newCmdConfigSet(f *Factory) *cobra.Command {
	var passEnv, passFile string
	var use bool
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Create or update a context from the connection flags",
		Long: `Create or update a context from the connection flags given with it: --brokers,
--tls-ca, --tls-cert, --tls-key, --tls-server-name, --sasl-mechanism, --sasl-user,
--amqp-url and --amqp-mgmt-url. The SASL password is never taken from a flag:
name an environment variable (--password-env) or a file (--password-file).`,
		Example: `  eddy config set local --brokers 127.0.0.1:9092 --amqp-url amqp://guest:guest@127.0.0.1:5672/ --use
  eddy config set prod --brokers kafka-1:9093 --tls-ca /etc/eddy/ca.pem --sasl-mechanism SCRAM-SHA-512 --sasl-user eddy --password-env PROD_KAFKA_PASSWORD`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Config()
			if err != nil {
				return err
			}
			if err := c.Set(args[0], &f.Global, passEnv, passFile, use); err != nil {
				return err
			}
			if err := c.Save(); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "eddy: saved context %q in %s\n", inspect.SafeString(args[0]), c.Path())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&passEnv, "password-env", "", "environment variable that holds the Kafka SASL password")
	fl.StringVar(&passFile, "password-file", "", "file that holds the Kafka SASL password")
	fl.BoolVar(&use, "use", false, "also make it the current context")
	return cmd
}
