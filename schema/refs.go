package schema

// refSchema is one reference of a registered schema: the name it is
// imported by, and the subject and version it is pinned to.
type refSchema struct {
	Name    string
	Subject string
	Version int
}
