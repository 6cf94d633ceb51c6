package cmdutil

import (
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// NonEmptyFlags are eddy's flags whose value selects or names what a command
// reads, moves or writes, with what a value of each is. Given empty (or
// blank: a script's variable that came out empty), such a flag would mean
// "everything" or "the default" — a redrive of a whole DLQ where a script
// meant a few messages. An empty value is a usage error instead
// (CheckNonEmpty); left out, the flag keeps its documented default.
var NonEmptyFlags = map[string]string{
	"filter":   "an expression",
	"error":    "a regular expression",
	"ids":      "ids or positions",
	"to":       "an address",
	"job":      "a job name",
	"worker":   "a worker name",
	"park":     "a topic or queue",
	"group":    "a consumer group",
	"ledger":   "a file path or redis:// URL",
	"suffix":   "name suffixes",
	"prefix":   "name prefixes",
	"contains": "name parts",
	"flow":     "a flow definition",

	// Where to connect and how to log in: given empty, each would fall
	// back to the environment, the context or 127.0.0.1 — another
	// cluster, or another login, than the script meant.
	"brokers":                       "host:port addresses",
	"amqp-url":                      "an amqp[s]:// URL",
	"amqp-mgmt-url":                 "an http[s]:// URL",
	"context":                       "a context name",
	"sasl-mechanism":                "a SASL mechanism",
	"sasl-user":                     "a user name",
	"sasl-password-file":            "a file",
	"tls-ca":                        "a PEM file",
	"tls-cert":                      "a PEM file",
	"tls-key":                       "a PEM file",
	"tls-server-name":               "a host name",
	"sasl-oauth-token-file":         "a file",
	"sasl-oauth-token-command":      "a command",
	"sasl-oauth-token-endpoint":     "an https:// URL",
	"sasl-oauth-client-id":          "a client id",
	"sasl-oauth-client-secret-file": "a file",
	"sasl-kerberos-keytab":          "a keytab file",
	"sasl-kerberos-ccache":          "a credential cache file",
	"sasl-kerberos-config":          "a krb5.conf file",
	"sasl-kerberos-principal":       "a principal",
	"sasl-kerberos-service-name":    "a service name",
	"sasl-kerberos-host":            "a host name",
	"sasl-aws-region":               "an AWS region",
	"sasl-aws-profile":              "an AWS profile",

	// Where eddy serves and pushes: an empty --listen would serve the
	// metrics on every interface at a random port, an empty --otlp-spans
	// would silently export nothing.
	"listen":     "a HOST:PORT to serve on",
	"otlp-spans": "an OTLP endpoint",
}

// CheckNonEmpty refuses every flag of fs named in what that was given with
// an empty or blank value (for a list, an empty list or a blank item: an
// empty name part would make every topic a DLQ), as a usage error that says
// what a value is (what[name]). Such a flag selects or names what a command
// reads, moves or writes: empty, it would mean "everything" or "the
// default". The list flags named in ownBlanks are left to their command,
// which skips blank items.
func CheckNonEmpty(fs *pflag.FlagSet, what map[string]string, ownBlanks ...string) error {
	var err error
	fs.Visit(func(fl *pflag.Flag) {
		kind, ok := what[fl.Name]
		if !ok || err != nil {
			return
		}
		vals := []string{fl.Value.String()}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
			if slices.Contains(ownBlanks, fl.Name) {
				return
			}
			if len(vals) == 0 {
				vals = []string{""}
			}
		}
		for _, v := range vals {
			if strings.TrimSpace(v) == "" {
				err = Usagef("--%s is empty: give %s, or leave the flag out", fl.Name, kind)
				return
			}
		}
	})
	return err
}
