package schema

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
