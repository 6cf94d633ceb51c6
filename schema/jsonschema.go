package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"
)

// jsonCodec is a JSON Schema: the body is JSON already, so decoding is
// checking that it is (and, with validate, that it matches the schema).
type jsonCodec struct {
	schema *jsonschema.Schema // nil when not validating
	title  string
}

// errInvalid marks a body that is JSON but does not match its schema
// (event.FailInvalid: the JSON is kept).
var errInvalid = errors.New("does not match its schema")

func (c *jsonCodec) appendJSON(dst, body []byte) ([]byte, string, error) {
	if !json.Valid(body) {
		return dst, c.title, errors.New("not JSON")
	}
	dst = append(dst, body...)
	if c.schema == nil {
		return dst, c.title, nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return dst, c.title, err
	}
	if err := c.schema.Validate(v); err != nil {
		return dst, c.title, fmt.Errorf("%w: %v", errInvalid, err)
	}
	return dst, c.title, nil
}

// jsonBase is where schemas are placed for the compiler: a scheme no loader
// serves, so a $ref that is not one of the pinned references fails to
// compile instead of reading a file or the network.
const jsonBase = "eddy-registry:///"

// compileJSONSchema compiles a JSON Schema with its references (each by its
// pinned subject and version, added under the name it is referenced by).
// Without validate only the schema's title is kept: nothing is compiled,
// the body just has to be JSON.
func compileJSONSchema(ctx context.Context, text string, refs []refSchema, fetch fetchFunc, validate bool) (codec, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(text)))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	c := &jsonCodec{}
	if m, ok := doc.(map[string]any); ok {
		// The title names the record in every event's SchemaRef: printed.
		title, _ := m["title"].(string)
		c.title = safeName(title)
	}
	if !validate {
		return c, nil
	}
	comp := jsonschema.NewCompiler()
	comp.UseLoader(jsonschema.SchemeURLLoader{}) // no file, no network
	err = walkRefs(ctx, refs, fetch, func(r refSchema, ss sr.SubjectSchema) error {
		rdoc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(ss.Schema.Schema)))
		if err != nil {
			return fmt.Errorf("reference %s version %d: not JSON: %v", r.Subject, r.Version, err)
		}
		if err := comp.AddResource(jsonRefURL(r.Name), rdoc); err != nil {
			return fmt.Errorf("reference %s version %d: %v", r.Subject, r.Version, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	const main = jsonBase + "__eddy_main.json"
	if err := comp.AddResource(main, doc); err != nil {
		return nil, err
	}
	s, err := comp.Compile(main)
	if err != nil {
		return nil, err
	}
	c.schema = s
	return c, nil
}

// jsonRefURL is where a reference named name lives: an absolute URL as it
// is, a relative name under jsonBase (where the main schema's relative $ref
// resolves it).
func jsonRefURL(name string) string {
	if u, err := url.Parse(name); err == nil && u.IsAbs() {
		return name
	}
	return jsonBase + name
}
