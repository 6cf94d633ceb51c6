package schema

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/sr"
)

// refSchema is one reference of a registered schema: the name it is
// imported by, and the subject and version it is pinned to.
type refSchema struct {
	Name    string
	Subject string
	Version int
}

// maxRefs bounds the references (transitively) of one registered schema,
// whatever its format, against a registry whose references never end: each
// is a registry call.
const maxRefs = 1000

// walkRefs fetches refs by their pinned subject and version, and their own
// references, depth first, each subject version once, and calls visit for
// each after its references (a dependency before what depends on it). It
// bounds the depth and the count (maxRefs): cycles and endless chains end.
func walkRefs(ctx context.Context, refs []refSchema, fetch fetchFunc, visit func(refSchema, sr.SubjectSchema) error) error {
	seen := map[string]bool{}
	var walk func(refs []refSchema, depth int) error
	walk = func(refs []refSchema, depth int) error {
		if depth > 32 {
			return errors.New("references nested too deep")
		}
		for _, r := range refs {
			key := r.Subject + "@" + strconv.Itoa(r.Version)
			if seen[key] {
				continue
			}
			if len(seen) >= maxRefs {
				return fmt.Errorf("more than %d references", maxRefs)
			}
			seen[key] = true
			if fetch == nil {
				return fmt.Errorf("reference %s version %d: no registry", r.Subject, r.Version)
			}
			ss, err := fetch(ctx, r.Subject, r.Version)
			if err != nil {
				return err
			}
			if err := walk(toRefs(ss.References), depth+1); err != nil {
				return err
			}
			if err := visit(r, ss); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(refs, 0)
}
