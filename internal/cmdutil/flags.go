package cmdutil

import (
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

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
