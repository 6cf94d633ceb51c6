package main

import (
	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/config"
	"github.com/eddy-sh/eddy/internal/helptext"
)

func newCmdConfig(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Manage named contexts (brokers, credentials, schema)",
		Long:  helptext.Config,
	}
	cmd.AddCommand(newCmdConfigList(f), newCmdConfigUse(f), newCmdConfigShow(f), newCmdConfigSet(f), newCmdConfigImport(f))
	return cmd
}

func newCmdConfigList(f *Factory) *cobra.Command {
	var noHeaders bool
	cmd := &cobra.Command{
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
			w := f.IO.Out
			if noHeaders {
				w = inspect.WithoutHeaders(w)
			}
			return c.WriteList(w, current)
		},
	}
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "leave out the header line (kubectl's)")
	return cmd
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
			notef(f.IO.ErrOut, "now using context %q", args[0])
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
			return config.WriteContext(f.IO.Out, name, ctx)
		},
	}
}

func newCmdConfigSet(f *Factory) *cobra.Command {
	var passEnv, passFile string
	var use bool
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Create or update a context from the connection flags",
		Long:  helptext.ConfigSet,
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
			notef(f.IO.ErrOut, "saved context %q in %s", args[0], c.Path())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&passEnv, "password-env", "", "environment variable that holds the Kafka SASL password")
	fl.StringVar(&passFile, "password-file", "", "file that holds the Kafka SASL password")
	fl.BoolVar(&use, "use", false, "also make it the current context")
	return cmd
}
