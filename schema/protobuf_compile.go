package schema

import (
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// confluentProtos are Confluent's own imports (confluent/meta.proto,
// confluent/type/decimal.proto): its serializers register schemas that
// import them without a reference, as they do the well-known types.
//
//go:embed protoimports/confluent
var confluentProtos embed.FS

// confluentResolver serves confluentProtos by import path.
var confluentResolver = protocompile.ResolverFunc(func(name string) (protocompile.SearchResult, error) {
	if !strings.HasPrefix(name, "confluent/") {
		return protocompile.SearchResult{}, fs.ErrNotExist
	}
	f, err := confluentProtos.Open("protoimports/" + name)
	if err != nil {
		return protocompile.SearchResult{}, err
	}
	return protocompile.SearchResult{Source: f}, nil
})

// protoResolver serves r's files, then Confluent's and the well-known
// types' (google/protobuf/*.proto) for the imports r does not have.
func protoResolver(r protocompile.Resolver) protocompile.Resolver {
	return protocompile.WithStandardImports(protocompile.CompositeResolver{r, confluentResolver})
}

// compileProto compiles a registered Protobuf schema (its text, and its
// references, each fetched by its pinned subject and version through fetch)
// into a codec whose body starts with the Confluent message-index array.
func compileProto(ctx context.Context, text string, refs []refSchema, fetch fetchFunc) (codec, error) {
	srcs := map[string]string{}
	// References of references: depth first, each import path fetched once
	// (the first pin met wins: one compilation has one file per path).
	var add func(refs []refSchema) error
	add = func(refs []refSchema) error {
		for _, ref := range refs {
			if _, ok := srcs[ref.Name]; ok {
				continue
			}
			if len(srcs) >= maxRefs {
				return fmt.Errorf("protobuf schema: more than %d references", maxRefs)
			}
			ss, err := fetch(ctx, ref.Subject, ref.Version)
			if err != nil {
				return fmt.Errorf("protobuf reference %q (%s version %d): %w", ref.Name, ref.Subject, ref.Version, err)
			}
			srcs[ref.Name] = ss.Schema.Schema
			next := make([]refSchema, 0, len(ss.Schema.References))
			for _, r := range ss.Schema.References {
				next = append(next, refSchema{Name: r.Name, Subject: r.Subject, Version: r.Version})
			}
			if err := add(next); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(refs); err != nil {
		return nil, err
	}
	// The main text's own name: any that no reference uses.
	main := "registered.proto"
	for _, taken := srcs[main]; taken; _, taken = srcs[main] {
		main = "_" + main
	}
	srcs[main] = text

	comp := protocompile.Compiler{
		Resolver:       protoResolver(registeredResolver(srcs)),
		MaxParallelism: 1, // a handful of small files: parallelism costs more than it saves
	}
	files, err := comp.Compile(ctx, main)
	if err != nil {
		return nil, fmt.Errorf("protobuf schema: %w", err)
	}
	if files[0].Messages().Len() == 0 {
		return nil, errors.New("protobuf schema: defines no message")
	}
	reg := new(protoregistry.Files)
	fd, err := registerAll(reg, files[0])
	if err != nil {
		return nil, fmt.Errorf("protobuf schema: %w", err)
	}
	c := newProtoCodec(reg)
	c.file = fd
	return c, nil
}

// registeredResolver serves registered schemas by import path: .proto
// text, or — as Confluent's own serializers (the Python client's among them)
// register Protobuf schemas — a base64-encoded FileDescriptorProto, which
// the registry hands back as it was given.
func registeredResolver(srcs map[string]string) protocompile.Resolver {
	text := &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(srcs)}
	return protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		if fdp := descriptorText(srcs[path]); fdp != nil {
			fdp.Name = proto.String(path) // imported by the reference's name, whatever it was compiled as
			return protocompile.SearchResult{Proto: fdp}, nil
		}
		return text.FindFileByPath(path)
	})
}

// descriptorText returns s as a FileDescriptorProto when s is one in base64,
// else nil. Schema text is never valid base64 of one: it has spaces or
// semicolons, which base64 has not.
func descriptorText(s string) *descriptorpb.FileDescriptorProto {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, " \t\n;{") {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	var fdp descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(b, &fdp); err != nil {
		return nil
	}
	for _, m := range fdp.MessageType {
		defaultJSONNames(m)
	}
	for _, f := range fdp.Extension {
		defaultJSONName(f)
	}
	return &fdp
}

// defaultJSONNames gives every field its json_name as protoc would:
// Confluent's Python serializer registers descriptors without them (or with
// ""), and a compiler given a descriptor takes its json_name as written, so
// every field would have the same JSON name "".
func defaultJSONNames(m *descriptorpb.DescriptorProto) {
	for _, f := range m.Field {
		defaultJSONName(f)
	}
	for _, f := range m.Extension {
		defaultJSONName(f)
	}
	for _, n := range m.NestedType {
		defaultJSONNames(n)
	}
}

func defaultJSONName(f *descriptorpb.FieldDescriptorProto) {
	if f.GetJsonName() == "" {
		f.JsonName = proto.String(jsonCamelCase(f.GetName()))
	}
}

// jsonCamelCase is protoc's default JSON name of a field: underscores
// dropped, the letter after each one upper-cased.
func jsonCamelCase(s string) string {
	b := make([]byte, 0, len(s))
	up := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			up = true
		case up && 'a' <= c && c <= 'z':
			b = append(b, c-'a'+'A')
			up = false
		default:
			b = append(b, c)
			up = false
		}
	}
	return string(b)
}

// localProto compiles local .proto files (a file, or a directory whose files
// import each other) or a descriptor set (.binpb/.pb) into a codec for the
// message named (required when there are several); its body is the bare
// message, no index array.
func localProto(file, message string) (codec, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err // names the file
	}
	var reg *protoregistry.Files
	var own []protoreflect.FileDescriptor // the files whose messages may be meant
	switch ext := strings.ToLower(filepath.Ext(file)); {
	case st.IsDir():
		reg, own, err = compileProtoDir(file)
	case ext == ".proto":
		reg, own, err = compileProtoFiles(filepath.Dir(file), []string{filepath.Base(file)})
	case ext == ".binpb" || ext == ".pb" || ext == ".desc" || ext == ".protoset":
		reg, own, err = loadDescriptorSet(file)
	default:
		return nil, fmt.Errorf("%s: not a .proto file, a directory of them or a descriptor set (.binpb, .pb)", file)
	}
	if err != nil {
		return nil, err
	}
	var md protoreflect.MessageDescriptor
	if message != "" {
		d, err := reg.FindDescriptorByName(protoreflect.FullName(message))
		if err != nil {
			names, _ := messageNames(own, 5)
			return nil, fmt.Errorf("%s: no message %q (it defines %s)", file, message, names)
		}
		var ok bool
		if md, ok = d.(protoreflect.MessageDescriptor); !ok {
			return nil, fmt.Errorf("%s: %q is not a message", file, message)
		}
	} else {
		names, n := messageNames(own, 5)
		switch {
		case n == 0:
			return nil, fmt.Errorf("%s: defines no message", file)
		case n > 1:
			return nil, fmt.Errorf("%s: defines %d messages (%s): name the one to decode (message)", file, n, names)
		}
		for _, fd := range own {
			if fd.Messages().Len() > 0 {
				md = fd.Messages().Get(0)
			}
		}
	}
	c := newProtoCodec(reg)
	c.bare = newProtoMessage(md)
	return c, nil
}

// compileProtoDir compiles every .proto file under dir, imports resolved
// relative to dir.
func compileProtoDir(dir string) (*protoregistry.Files, []protoreflect.FileDescriptor, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".proto") {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("%s: no .proto file in it", dir)
	}
	sort.Strings(names)
	return compileProtoFiles(dir, names)
}

// compileProtoFiles compiles names (slash paths relative to dir).
func compileProtoFiles(dir string, names []string) (*protoregistry.Files, []protoreflect.FileDescriptor, error) {
	root := dir
	comp := protocompile.Compiler{
		Resolver: protoResolver(&protocompile.SourceResolver{
			// Only files under dir: an import path never climbs out of it.
			Accessor: func(name string) (io.ReadCloser, error) {
				if !fs.ValidPath(name) {
					return nil, fs.ErrNotExist
				}
				return os.Open(filepath.Join(root, filepath.FromSlash(name)))
			},
		}),
	}
	files, err := comp.Compile(context.Background(), names...)
	if err != nil {
		// protocompile's errors say file:line:col relative to dir.
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	reg := new(protoregistry.Files)
	own := make([]protoreflect.FileDescriptor, 0, len(files))
	for _, f := range files {
		fd, err := registerAll(reg, f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", dir, err)
		}
		own = append(own, fd)
	}
	return reg, own, nil
}

// loadDescriptorSet reads a google.protobuf.FileDescriptorSet (protoc
// --descriptor_set_out, buf build -o x.binpb). The well-known types and
// Confluent's imports may be left out of it (no --include_imports): they are
// taken from eddy's.
func loadDescriptorSet(file string) (*protoregistry.Files, []protoreflect.FileDescriptor, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		return nil, nil, fmt.Errorf("%s: not a protobuf descriptor set: %w", file, err)
	}
	if len(set.File) == 0 {
		return nil, nil, fmt.Errorf("%s: descriptor set has no file", file)
	}
	have := map[string]bool{}
	for _, f := range set.File {
		have[f.GetName()] = true
	}
	for _, f := range set.File {
		for _, dep := range f.GetDependency() {
			addStandardDep(&set, have, dep)
		}
	}
	reg, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	var own []protoreflect.FileDescriptor
	for _, f := range set.File {
		name := f.GetName()
		if strings.HasPrefix(name, "google/protobuf/") || strings.HasPrefix(name, "confluent/") {
			continue // imported, not the user's
		}
		fd, err := reg.FindFileByPath(name)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		own = append(own, fd)
	}
	return reg, own, nil
}

// addStandardDep adds dep to set, with its own imports, when the set lacks
// it and it is a well-known type's file or Confluent's. Any other missing
// import is left for protodesc to name.
func addStandardDep(set *descriptorpb.FileDescriptorSet, have map[string]bool, dep string) {
	if have[dep] {
		return
	}
	var fd protoreflect.FileDescriptor
	if d, err := protoregistry.GlobalFiles.FindFileByPath(dep); err == nil {
		fd = d
	} else if strings.HasPrefix(dep, "confluent/") {
		comp := protocompile.Compiler{Resolver: protoResolver(protocompile.CompositeResolver{})}
		files, err := comp.Compile(context.Background(), dep)
		if err != nil {
			return // not one of Confluent's
		}
		fd = files[0]
	} else {
		return
	}
	have[dep] = true
	imps := fd.Imports()
	for i := 0; i < imps.Len(); i++ {
		addStandardDep(set, have, imps.Get(i).Path())
	}
	set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
}
