package schema

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// protoCodec decodes Protobuf bodies with dynamicpb and writes them as
// protojson. A registered schema's codec (file set) reads the Confluent
// message-index path first; a local one (bare set) decodes the bare message.
type protoCodec struct {
	file protoreflect.FileDescriptor // the registered file the index path walks
	bare *protoMessage               // the local message: no index path

	unmarshal proto.UnmarshalOptions
	marshal   protojson.MarshalOptions

	mu sync.RWMutex
	// byPath caches the message of each index path seen, keyed by the
	// path's bytes as written. Bounded: a path can be written in many ways
	// (varints need not be minimal), so a hostile topic must not grow it.
	byPath map[string]*protoMessage
}

// protoPathCacheMax bounds protoCodec.byPath; paths past it are walked each
// time (a few slice lookups), never stored.
const protoPathCacheMax = 256

// protoMessage is one message a codec decodes.
type protoMessage struct {
	typ  protoreflect.MessageType
	name string // full name, reported as the decoded message
}

func newProtoMessage(md protoreflect.MessageDescriptor) *protoMessage {
	return &protoMessage{typ: dynamicpb.NewMessageType(md), name: string(md.FullName())}
}

// newProtoCodec makes a codec over the files in reg: Any values and
// extensions resolve against them first, then against the types compiled
// into eddy (the well-known types).
func newProtoCodec(reg *protoregistry.Files) *protoCodec {
	types := protoTypes{local: dynamicpb.NewTypes(reg)}
	return &protoCodec{
		// AllowPartial: a record missing a proto2 required field is still
		// shown, and the check costs a walk over every message.
		unmarshal: proto.UnmarshalOptions{Resolver: types, AllowPartial: true},
		marshal:   protojson.MarshalOptions{Resolver: types, AllowPartial: true},
	}
}

// appendJSON implements codec.
func (c *protoCodec) appendJSON(dst, body []byte) ([]byte, string, error) {
	m := c.bare
	if m == nil {
		var n int
		var err error
		if m, n, err = c.indexed(body); err != nil {
			return dst, "", err
		}
		body = body[n:]
	}
	msg := m.typ.New().Interface()
	if err := c.unmarshal.Unmarshal(body, msg); err != nil {
		return dst, m.name, fmt.Errorf("protobuf %s: %w", m.name, err)
	}
	out, err := c.marshal.MarshalAppend(dst, msg)
	if err != nil {
		return dst, m.name, fmt.Errorf("protobuf %s: %w", m.name, err)
	}
	if protojsonSpaces() {
		out = append(out[:len(dst)], compactJSON(out[len(dst):])...)
	}
	return out, m.name, nil
}

// protojsonSpaces reports whether protojson, in this binary, adds a space
// after its commas: it does in one build of two, on purpose (its output is
// "unstable", chosen by a hash of the executable), and eddy's output must
// not change from one build to the next.
var protojsonSpaces = sync.OnceValue(func() bool {
	s, err := structpb.NewStruct(map[string]any{"a": 1, "b": 2})
	if err != nil {
		return true
	}
	b, err := protojson.Marshal(s)
	return err != nil || bytes.Contains(b, []byte(", "))
})

// compactJSON removes, in place, the whitespace outside strings in b.
func compactJSON(b []byte) []byte {
	out := b[:0]
	in, esc := false, false
	for _, c := range b {
		switch {
		case in:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				in = false
			}
		case c == '"':
			in = true
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			continue
		}
		out = append(out, c)
	}
	return out
}

// indexed reads the Confluent message-index array at the start of body (a
// zigzag varint count, then that many zigzag varint indexes; a count of 0
// means [0]) and returns the message it names and the array's length. The
// indexes are a path: the first picks one of the file's top-level messages,
// each next one a message nested in the one picked so far.
func (c *protoCodec) indexed(body []byte) (*protoMessage, int, error) {
	end, err := protoIndexEnd(body)
	if err != nil {
		return nil, 0, err
	}
	key := body[:end]
	c.mu.RLock()
	m := c.byPath[string(key)] // no allocation: the conversion is only a lookup key
	c.mu.RUnlock()
	if m != nil {
		return m, end, nil
	}
	md, err := c.walk(key)
	if err != nil {
		return nil, 0, err
	}
	m = newProtoMessage(md)
	c.mu.Lock()
	if old := c.byPath[string(key)]; old != nil {
		m = old
	} else if len(c.byPath) < protoPathCacheMax {
		if c.byPath == nil {
			c.byPath = make(map[string]*protoMessage)
		}
		c.byPath[string(key)] = m
	}
	c.mu.Unlock()
	return m, end, nil
}

// protoIndexEnd checks the message-index array at the start of body and
// returns its length in bytes.
func protoIndexEnd(body []byte) (int, error) {
	count, n := binary.Varint(body)
	if n <= 0 {
		return 0, errors.New("protobuf message indexes: truncated or malformed")
	}
	if count < 0 || count > int64(len(body)-n) { // each index takes a byte at least
		return 0, fmt.Errorf("protobuf message indexes: bad count %d", count)
	}
	end := n
	for i := int64(0); i < count; i++ {
		_, n := binary.Varint(body[end:])
		if n <= 0 {
			return 0, errors.New("protobuf message indexes: truncated or malformed")
		}
		end += n
	}
	return end, nil
}

// walk follows the index path in key (checked by protoIndexEnd) from the
// file's top-level messages down through nested ones.
func (c *protoCodec) walk(key []byte) (protoreflect.MessageDescriptor, error) {
	count, n := binary.Varint(key)
	if count == 0 {
		count = 1 // the [0] shortcut: key is the single byte 0, read index 0 below
		key = []byte{0}
		n = 0
	}
	msgs := c.file.Messages()
	var md protoreflect.MessageDescriptor
	// Not preallocated from count: the record claims it, and a path longer
	// than the file's nesting fails within a few indexes.
	var path []int64
	for i := int64(0); i < count; i++ {
		idx, m := binary.Varint(key[n:])
		n += m
		path = append(path, idx)
		if idx < 0 || idx >= int64(msgs.Len()) {
			where := "the file's top level"
			if md != nil {
				where = string(md.FullName())
			}
			return nil, fmt.Errorf("protobuf message indexes %v: no message %d in %s (it has %d)", path, idx, where, msgs.Len())
		}
		md = msgs.Get(int(idx))
		msgs = md.Messages()
	}
	return md, nil
}

// protoTypes resolves Any type URLs and extensions against a schema's own
// files first, then against the types compiled into eddy.
type protoTypes struct{ local *dynamicpb.Types }

func (t protoTypes) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, err := t.local.FindMessageByName(name); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

func (t protoTypes) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if mt, err := t.local.FindMessageByURL(url); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (t protoTypes) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := t.local.FindExtensionByName(name); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(name)
}

func (t protoTypes) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := t.local.FindExtensionByNumber(message, field); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}

// registerAll adds fd and everything it imports, transitively, to reg, and
// returns fd as registered. Files protocompile linked are rebuilt with
// protodesc: the runtime's descriptors answer dynamicpb's and protojson's
// questions (field presence, features) many times faster than the
// linker's, which resolve them anew at each call.
func registerAll(reg *protoregistry.Files, fd protoreflect.FileDescriptor) (protoreflect.FileDescriptor, error) {
	if have, err := reg.FindFileByPath(fd.Path()); err == nil {
		return have, nil
	}
	imps := fd.Imports()
	for i := 0; i < imps.Len(); i++ {
		if _, err := registerAll(reg, imps.Get(i).FileDescriptor); err != nil {
			return nil, err
		}
	}
	if g, err := protoregistry.GlobalFiles.FindFileByPath(fd.Path()); err != nil || g != fd {
		rebuilt, err := protodesc.NewFile(protodesc.ToFileDescriptorProto(fd), reg)
		if err != nil {
			return nil, err
		}
		fd = rebuilt
	}
	return fd, reg.RegisterFile(fd)
}

// messageNames lists up to max top-level message names of files, for an
// error, with how many there are in all.
func messageNames(files []protoreflect.FileDescriptor, max int) (names string, total int) {
	var b strings.Builder
	for _, fd := range files {
		msgs := fd.Messages()
		for i := 0; i < msgs.Len(); i++ {
			if total < max {
				if total > 0 {
					b.WriteString(", ")
				}
				b.WriteString(string(msgs.Get(i).FullName()))
			}
			total++
		}
	}
	if total > max {
		fmt.Fprintf(&b, " and %d more", total-max)
	}
	return b.String(), total
}
