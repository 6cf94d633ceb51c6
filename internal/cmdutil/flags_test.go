package cmdutil

import (
	"errors"
	"testing"

	"github.com/spf13/pflag"
)

// TestCheckNonEmpty: a listed flag given empty or blank (for a list, an
// empty list or a blank item) is a usage error that says what to give;
// left out, or not listed, it is not checked; lists named as their own
// command's are not checked.
func TestCheckNonEmpty(t *testing.T) {
	what := map[string]string{"to": "an address", "suffix": "name suffixes", "ids": "ids"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"--to", "kafka:x", "--suffix", ".dlq", "--other", ""}, ""},
		{[]string{"--to", " "}, "--to is empty: give an address, or leave the flag out"},
		{[]string{"--suffix", ".dlq,"}, "--suffix is empty: give name suffixes, or leave the flag out"},
		{[]string{"--suffix", ""}, "--suffix is empty: give name suffixes, or leave the flag out"},
		{[]string{"--ids", ",,"}, ""},
	} {
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		fs.String("to", "", "")
		fs.String("other", "", "")
		fs.StringSlice("suffix", nil, "")
		fs.StringSlice("ids", nil, "")
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := CheckNonEmpty(fs, what, "ids")
		var ue *UsageError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || !errors.As(err, &ue)):
			t.Errorf("%q: got %v, want usage error %q", tc.args, err, tc.want)
		}
	}
}
