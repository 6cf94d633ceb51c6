package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/internal/config"
	"github.com/eddy-sh/eddy/internal/helptext"
)

// newCmdConfigImport is eddy config import: contexts from the configuration
// of kaf, kafkactl, rpk, kcat or a Java client.properties.
func newCmdConfigImport(f *Factory) *cobra.Command {
	var o config.ImportOptions
	var name string
	var all bool
	cmd := &cobra.Command{
		Use:       "import kaf|kafkactl|rpk|kcat|properties [FILE]",
		Short:     "Create contexts from kaf, kafkactl, rpk, kcat or Java client.properties configuration",
		Long:      helptext.ConfigImport,
		ValidArgs: config.ImportKinds,
		Example: `  eddy config import kaf --all
  eddy config import kafkactl --name prod
  eddy config import rpk ~/.config/rpk/rpk.yaml --dry-run
  eddy config import properties client.properties --name ccloud --use`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || len(args) > 2 {
				return usagef("eddy config import needs a SOURCE (%s) and optionally its FILE", strings.Join(config.ImportKinds, ", "))
			}
			if !slices.Contains(config.ImportKinds, args[0]) {
				return safeUsagef("eddy config import: %q is not a source: want %s", args[0], strings.Join(config.ImportKinds, ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := args[0]
			path := ""
			if len(args) == 2 {
				path = args[1]
			} else {
				var err error
				if path, err = config.DefaultImportPath(kind, f.Getenv); err != nil {
					return err
				}
			}
			c, err := f.Config()
			if err != nil {
				return err
			}
			warn := func(s string) { notef(f.IO.ErrOut, "warning: %s", s) }
			items, err := config.ReadImport(kind, path, name, warn)
			if err != nil {
				return err
			}
			for _, it := range items {
				f.Redactor.Add(it.Conn.Password)
				f.Redactor.Add(it.SRPassword)
			}
			if items, err = config.SelectImport(items, kind, path, name, all); err != nil {
				return err
			}
			made, err := c.Import(items, o)
			if err != nil {
				return err
			}
			if o.DryRun {
				return config.WriteImported(f.IO.Out, made)
			}
			for _, it := range items {
				notef(f.IO.ErrOut, "imported context %q from %s %s into %s", it.Name, kind, path, c.Path())
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "kaf, kafkactl, rpk: the cluster, context or profile to import (default: the source's current one); kcat, properties: the context's name")
	fl.BoolVar(&all, "all", false, "import every cluster, context or profile of the source")
	fl.BoolVar(&o.Force, "force", false, "replace a context of the same name")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the contexts it would create (secrets masked) and write nothing")
	fl.BoolVar(&o.Use, "use", false, "also make the imported context the current one")
	fl.StringVar(&o.PasswordEnv, "password-env", "", "keep the SASL password in this environment variable (its value is not saved) instead of a 0600 file beside the config")
	return cmd
}
