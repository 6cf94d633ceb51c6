package schema

// Encoding, for eddy send: a JSON value in, one registered schema's
// Confluent wire format out (magic byte 0, the schema id, for Protobuf the
// message-index array, then the body), with the codecs decoding uses:
// twmb/avro (its Avro JSON reader, then its binary writer), protocompile +
// dynamicpb + protojson, and santhosh-tekuri/jsonschema. A value that does
// not fit the schema is an *EncodeError naming the field, so nothing that
// the registry's consumers would refuse is sent.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Encoder writes JSON values in one registered schema's wire format. It is
// safe for concurrent use.
type Encoder struct {
	// Subject, Version and ID name the schema; Format is "avro",
	// "protobuf" or "json"; Message is the Protobuf message encoded.
	Subject string
	Version int
	ID      int
	Format  string
	Message string

	enc func(dst, value []byte) ([]byte, error)
}

// EncodeError is a value that does not fit the schema.
type EncodeError struct {
	// Field is the path to the value that failed (a.b.c), "" when the
	// codec does not say.
	Field string
	Err   error
}

func (e *EncodeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("field %s: %v", e.Field, e.Err)
	}
	return e.Err.Error()
}

func (e *EncodeError) Unwrap() error { return e.Err }

// Encoder returns an Encoder for subject's schema at version (-1: the
// latest); message picks a Protobuf message by its full or short name (""
// : the file's first).
func (c *Client) Encoder(ctx context.Context, subject string, version int, message string) (*Encoder, error) {
	var ss sr.SubjectSchema
	err := c.call(ctx, func(ctx context.Context) (err error) {
		ss, err = c.sr.SchemaByVersion(ctx, subject, version)
		return err
	})
	if err != nil {
		return nil, c.browseError(err, subject)
	}
	fetch := func(ctx context.Context, subject string, version int) (sr.SubjectSchema, error) {
		var rs sr.SubjectSchema
		err := c.call(ctx, func(ctx context.Context) (err error) {
			rs, err = c.sr.SchemaByVersion(ctx, subject, version)
			return err
		})
		if err != nil {
			return rs, &fetchError{subject, version, err}
		}
		return rs, nil
	}
	e := &Encoder{Subject: subject, Version: ss.Version, ID: ss.ID, Format: formatName(ss.Type)}
	refs := toRefs(ss.References)
	if message != "" && ss.Type != sr.TypeProtobuf {
		return nil, fmt.Errorf("subject %s: --proto-message is for Protobuf; its schema is %s", subject, e.Format)
	}
	switch ss.Type {
	case sr.TypeProtobuf:
		cd, err := compileProto(ctx, ss.Schema.Schema, refs, fetch)
		if err != nil {
			return nil, fmt.Errorf("subject %s version %d: %v", subject, ss.Version, err)
		}
		pc := cd.(*protoCodec)
		md, path, err := findMessage(pc.file, message)
		if err != nil {
			return nil, fmt.Errorf("subject %s version %d: %v", subject, ss.Version, err)
		}
		e.Message = string(md.FullName())
		e.enc = protoEncoder(pc, md, wireHeader(ss.ID, path))
	case sr.TypeJSON:
		cd, err := compileJSONSchema(ctx, ss.Schema.Schema, refs, fetch, true)
		if err != nil {
			return nil, fmt.Errorf("subject %s version %d: %v", subject, ss.Version, err)
		}
		e.enc = jsonEncoder(cd.(*jsonCodec), wireHeader(ss.ID, nil))
	default:
		var cache avro.SchemaCache
		err := walkRefs(ctx, refs, fetch, func(r refSchema, rs sr.SubjectSchema) error {
			if _, err := cache.Parse(rs.Schema.Schema); err != nil {
				return fmt.Errorf("reference %s version %d: %v", r.Subject, r.Version, err)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("subject %s version %d: %v", subject, ss.Version, err)
		}
		s, err := cache.Parse(ss.Schema.Schema)
		if err != nil {
			return nil, fmt.Errorf("subject %s version %d: %v", subject, ss.Version, err)
		}
		e.enc = avroEncoder(s, wireHeader(ss.ID, nil))
	}
	return e, nil
}

// Encode returns value (JSON) in the schema's wire format.
func (e *Encoder) Encode(value []byte) ([]byte, error) { return e.enc(nil, value) }

// wireHeader is the Confluent header: magic 0, the id, and for Protobuf the
// message-index array (a zigzag varint count and indexes; [0] is written
// as the single byte 0, as Confluent's serializers do).
func wireHeader(id int, path []int) []byte {
	b := []byte{0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
	if path == nil {
		return b
	}
	if len(path) == 1 && path[0] == 0 {
		return append(b, 0)
	}
	b = binary.AppendVarint(b, int64(len(path)))
	for _, i := range path {
		b = binary.AppendVarint(b, int64(i))
	}
	return b
}

func avroEncoder(s *avro.Schema, head []byte) func(dst, value []byte) ([]byte, error) {
	return func(dst, value []byte) ([]byte, error) {
		var v any
		if err := s.DecodeJSON(value, &v); err != nil {
			return nil, avroEncodeError(err)
		}
		// twmb/avro's JSON reader takes what the schema names and drops
		// the rest: a field the schema does not have (a typo, a producer
		// ahead of the schema) would be sent without a word. Refused,
		// naming it, as a field of the wrong type is.
		var in any
		if json.Unmarshal(value, &in) == nil {
			if f := avroExtraField(in, v, ""); f != "" {
				return nil, &EncodeError{Field: f, Err: errors.New("is not a field of the Avro schema")}
			}
		}
		out, err := s.AppendEncode(append(dst, head...), v)
		if err != nil {
			return nil, avroEncodeError(err)
		}
		return out, nil
	}
}

// avroExtraField is the path of the first field of the JSON in that the
// value the Avro reader made of it (dec) does not have, "" when there is
// none. A one-key object around what the reader took whole is a union's
// type wrapper ({"string": "x"}, {"ns.Record": {...}}), not a field.
func avroExtraField(in, dec any, path string) string {
	switch in := in.(type) {
	case []any:
		if da, ok := dec.([]any); ok && len(da) == len(in) {
			for i := range in {
				if f := avroExtraField(in[i], da[i], path); f != "" {
					return f
				}
			}
		}
		return ""
	case map[string]any:
		dm, ok := dec.(map[string]any)
		if !ok {
			return "" // a wrapper around a scalar, or bytes, fixed
		}
		if len(in) == 1 {
			for k, v := range in {
				if _, field := dm[k]; !field {
					if _, obj := v.(map[string]any); obj {
						return avroExtraField(v, dec, path)
					}
				}
			}
		}
		keys := make([]string, 0, len(in))
		for k := range in {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			dv, ok := dm[k]
			if !ok {
				return p
			}
			if f := avroExtraField(in[k], dv, p); f != "" {
				return f
			}
		}
	}
	return ""
}

// avroEncodeError keeps the field path and the innermost reason of a
// twmb/avro error ("field c.email: expected string at offset 29").
func avroEncodeError(err error) error {
	var se *avro.SemanticError
	if errors.As(err, &se) {
		inner := err
		for {
			u := errors.Unwrap(inner)
			if u == nil {
				break
			}
			inner = u
		}
		msg := strings.TrimPrefix(inner.Error(), "avro json: ")
		return &EncodeError{Field: se.Field, Err: fmt.Errorf("does not fit Avro type %s: %s", se.AvroType, msg)}
	}
	return &EncodeError{Err: fmt.Errorf("does not fit the Avro schema: %s", strings.TrimPrefix(err.Error(), "avro json: "))}
}

func protoEncoder(c *protoCodec, md protoreflect.MessageDescriptor, head []byte) func(dst, value []byte) ([]byte, error) {
	um := protojson.UnmarshalOptions{Resolver: c.marshal.Resolver}
	return func(dst, value []byte) ([]byte, error) {
		m := dynamicpb.NewMessage(md)
		if err := um.Unmarshal(value, m); err != nil {
			return nil, &EncodeError{Err: fmt.Errorf("does not fit Protobuf message %s: %s", md.FullName(), strings.TrimPrefix(err.Error(), "proto: "))}
		}
		out, err := proto.MarshalOptions{}.MarshalAppend(append(dst, head...), m)
		if err != nil {
			return nil, &EncodeError{Err: fmt.Errorf("protobuf %s: %v", md.FullName(), err)}
		}
		return out, nil
	}
}

// findMessage finds a message of fd by full or short name ("" is the first
// top-level one) and its Confluent index path.
func findMessage(fd protoreflect.FileDescriptor, name string) (protoreflect.MessageDescriptor, []int, error) {
	if fd.Messages().Len() == 0 {
		return nil, nil, errors.New("protobuf schema defines no message")
	}
	if name == "" {
		return fd.Messages().Get(0), []int{0}, nil
	}
	var found protoreflect.MessageDescriptor
	var path []int
	var walk func(ms protoreflect.MessageDescriptors, prefix []int)
	walk = func(ms protoreflect.MessageDescriptors, prefix []int) {
		for i := 0; i < ms.Len() && found == nil; i++ {
			m := ms.Get(i)
			p := append(append([]int(nil), prefix...), i)
			if string(m.FullName()) == name || string(m.Name()) == name {
				found, path = m, p
				return
			}
			walk(m.Messages(), p)
		}
	}
	walk(fd.Messages(), nil)
	if found == nil {
		names, _ := messageNames([]protoreflect.FileDescriptor{fd}, 10)
		return nil, nil, fmt.Errorf("no message %q in the schema (it has %s)", name, names)
	}
	return found, path, nil
}

func jsonEncoder(c *jsonCodec, head []byte) func(dst, value []byte) ([]byte, error) {
	return func(dst, value []byte) ([]byte, error) {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
		if err != nil {
			return nil, &EncodeError{Err: fmt.Errorf("not JSON: %v", err)}
		}
		if err := c.schema.Validate(v); err != nil {
			var ve *jsonschema.ValidationError
			if errors.As(err, &ve) {
				leaf := ve
				for len(leaf.Causes) > 0 {
					leaf = leaf.Causes[0]
				}
				return nil, &EncodeError{Field: strings.Join(leaf.InstanceLocation, "."), Err: fmt.Errorf("does not match the JSON Schema: %v", leaf.ErrorKind)}
			}
			return nil, &EncodeError{Err: err}
		}
		return append(append(dst, head...), value...), nil
	}
}
