package schema

import "context"

// compileProto compiles a registered Protobuf schema (its text, and its
// references, each fetched by its pinned subject and version through fetch)
// into a codec whose body starts with the Confluent message-index array.
func compileProto(ctx context.Context, text string, refs []refSchema, fetch fetchFunc) (codec, error) {
	panic("TODO(schema-proto)")
}

// localProto compiles local .proto files (a file, or a directory whose files
// import each other) or a descriptor set (.binpb/.pb) into a codec for the
// message named (required when there are several); its body is the bare
// message, no index array.
func localProto(path, message string) (codec, error) {
	panic("TODO(schema-proto)")
}
