package schema

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/twmb/avro"
)

// localMapping is one topic's compiled local schemas.
type localMapping struct {
	key, value *localSchema
}

type localSchema struct {
	path   string
	format string
	codec  codec
}

func compileMapping(m Mapping, validate bool) (*localMapping, error) {
	lm := &localMapping{}
	var err error
	if m.Key != nil {
		if lm.key, err = compileLocal(*m.Key, validate); err != nil {
			return nil, err
		}
	}
	if m.Value != nil {
		if lm.value, err = compileLocal(*m.Value, validate); err != nil {
			return nil, err
		}
	}
	return lm, nil
}

// localFormat is ls's format: as given, else by the file's extension (a
// directory is Protobuf files).
func localFormat(ls LocalSchema) (string, error) {
	switch f := strings.ToLower(ls.Format); f {
	case "avro", "protobuf", "json":
		return f, nil
	case "":
	default:
		return "", fmt.Errorf("schema %s: unknown format %q (avro, protobuf or json)", ls.Path, ls.Format)
	}
	switch strings.ToLower(filepath.Ext(ls.Path)) {
	case ".avsc":
		return "avro", nil
	case ".json":
		return "json", nil
	case ".proto", ".binpb", ".pb":
		return "protobuf", nil
	}
	if fi, err := os.Stat(ls.Path); err == nil && fi.IsDir() {
		return "protobuf", nil
	}
	return "", fmt.Errorf("schema %s: cannot tell its format from the name (.avsc, .proto, .binpb, .pb, .json or a directory of .proto files)", ls.Path)
}

// compileLocal compiles a local schema file; errors name the file.
func compileLocal(ls LocalSchema, validate bool) (*localSchema, error) {
	format, err := localFormat(ls)
	if err != nil {
		return nil, err
	}
	out := &localSchema{path: ls.Path, format: format}
	if format == "protobuf" {
		if out.codec, err = localProto(ls.Path, ls.Message); err != nil {
			return nil, fmt.Errorf("schema %s: %v", ls.Path, err)
		}
		return out, nil
	}
	text, err := os.ReadFile(ls.Path)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %v", ls.Path, unwrapPathError(err))
	}
	switch format {
	case "avro":
		s, err := avro.Parse(string(text), avroRawOpts...)
		if err != nil {
			return nil, fmt.Errorf("schema %s: not an Avro schema: %v", ls.Path, err)
		}
		if out.codec, err = newAvroCodec(s); err != nil {
			return nil, fmt.Errorf("schema %s: %v", ls.Path, err)
		}
	case "json":
		// A local JSON Schema has no pinned references: a $ref outside the
		// file fails to compile rather than reading other files. It is
		// compiled even when not validating, so a broken file is said now.
		c, err := compileJSONSchema(context.Background(), string(text), nil, nil, true)
		if err != nil {
			return nil, fmt.Errorf("schema %s: not a JSON Schema: %v", ls.Path, err)
		}
		if !validate {
			c.(*jsonCodec).schema = nil
		}
		out.codec = c
	}
	return out, nil
}

// unwrapPathError drops the path os errors repeat (the message names it).
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
