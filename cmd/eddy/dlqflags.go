package main

import (
	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/dlq/convention"
)

// bindNamingFlags defines the DLQ naming flag group, --suffix, --prefix and
// --contains, on a command that finds DLQs by name (dlq ls, dlq show, dlq
// redrive); resolveNaming reads it back.
func bindNamingFlags(fs *pflag.FlagSet, suffixes, prefixes, contains *[]string) {
	fs.StringSliceVar(suffixes, "suffix", nil, "name suffixes that mark a DLQ (replaces the default list)")
	fs.StringSliceVar(prefixes, "prefix", nil, "name prefixes that mark a DLQ (replaces the default list)")
	fs.StringSliceVar(contains, "contains", nil, "name parts that mark a DLQ (replaces the default list)")
}

// resolveNaming is the naming the flags of bindNamingFlags say: the default
// convention unless one of them is given, which replaces it whole.
func resolveNaming(suffixes, prefixes, contains []string) convention.Naming {
	if len(suffixes) > 0 || len(prefixes) > 0 || len(contains) > 0 {
		return convention.Naming{Suffixes: suffixes, Prefixes: prefixes, Contains: contains}
	}
	return convention.DefaultNaming()
}
