package inspect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SchemaRef is one reference of a registered schema, pinned to a version.
type SchemaRef struct {
	Name, Subject string
	Version       int
}

// SchemaRow is one subject in eddy schema ls: its versions and its latest
// schema (ID, Format, References), and the topics whose TopicNameStrategy
// subject (TOPIC-value, TOPIC-key) it is.
type SchemaRow struct {
	Subject    string
	Versions   []int
	ID         int
	Format     string
	References []SchemaRef
	Topics     []string
}

// WriteSchemas writes eddy schema ls: a table (SUBJECT, VERSIONS, LATEST,
// ID, TYPE, REFERENCES, TOPICS), tsv (a header line, then a row per subject;
// lists comma-separated, a reference as NAME=SUBJECT@VERSION) or json, one
// object on one line, version 1 of this schema (fields are only added):
//
//	{"v":1,"subjects":[{"subject":"orders-value","versions":[1,2,3],"latest":3,
//	  "id":7,"type":"avro","references":[{"name":"common.proto",
//	  "subject":"common","version":2}],"topics":["orders"]}]}
//
// Every string is terminal-safe.
func WriteSchemas(w io.Writer, format string, rows []SchemaRow) error {
	if format == "json" {
		b := []byte(`{"v":1,"subjects":[`)
		for i, r := range rows {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"subject":`...)
			b = appendJSONString(b, r.Subject)
			b = append(b, `,"versions":`...)
			b = appendIntList(b, r.Versions)
			b = append(b, `,"latest":`...)
			b = strconv.AppendInt(b, int64(latest(r.Versions)), 10)
			b = append(b, `,"id":`...)
			b = strconv.AppendInt(b, int64(r.ID), 10)
			b = append(b, `,"type":`...)
			b = appendJSONString(b, r.Format)
			b = append(b, `,"references":`...)
			b = appendRefs(b, r.References)
			b = append(b, `,"topics":[`...)
			for j, t := range r.Topics {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, t)
			}
			b = append(b, "]}"...)
		}
		b = append(b, "]}\n"...)
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("writing the output: %w", err)
		}
		return nil
	}
	t := &table{head: []string{"SUBJECT", "VERSIONS", "LATEST", "ID", "TYPE", "REFERENCES", "TOPICS"},
		right: []bool{false, false, true, true, false, false, false}}
	for _, r := range rows {
		refs := make([]string, len(r.References))
		for i, ref := range r.References {
			refs[i] = ref.Name + "=" + ref.Subject + "@" + strconv.Itoa(ref.Version)
		}
		versions, topics, refList := intList(r.Versions), strings.Join(r.Topics, ","), strings.Join(refs, ",")
		if format == "table" {
			versions, topics, refList = orDash(versions), orDash(topics), orDash(refList)
		}
		t.add(format, r.Subject, versions, strconv.Itoa(latest(r.Versions)), strconv.Itoa(r.ID), r.Format, refList, topics)
	}
	return t.writeFormat(w, format, "", false, "subject", "versions", "latest", "id", "type", "references", "topics")
}

// RegisteredSchema is one version of a subject, for eddy schema show.
type RegisteredSchema struct {
	Subject    string
	Version    int
	Versions   []int // every version of the subject
	ID         int
	Format     string
	References []SchemaRef
	Text       string
}

// WriteSchema writes eddy schema show: for a person, the subject, version,
// id, type and references pinned, then the schema (JSON indented; all of
// it terminal-safe); json is one object on one line, version 1:
//
//	{"v":1,"subject":"orders-value","version":3,"versions":[1,2,3],"id":7,
//	 "type":"protobuf","references":[…],"schema":"syntax = \"proto3\"; …"}
func WriteSchema(w io.Writer, format string, s RegisteredSchema) error {
	var b []byte
	if format == "json" {
		b = append(b, `{"v":1,"subject":`...)
		b = appendJSONString(b, s.Subject)
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(s.Version), 10)
		b = append(b, `,"versions":`...)
		b = appendIntList(b, s.Versions)
		b = append(b, `,"id":`...)
		b = strconv.AppendInt(b, int64(s.ID), 10)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, s.Format)
		b = append(b, `,"references":`...)
		b = appendRefs(b, s.References)
		b = append(b, `,"schema":`...)
		b = appendJSONString(b, s.Text)
		b = append(b, "}\n"...)
	} else {
		bw := &bytes.Buffer{}
		fmt.Fprintf(bw, "subject     %s\n", SafeString(s.Subject))
		fmt.Fprintf(bw, "version     %d (of %s)\n", s.Version, orDash(intList(s.Versions)))
		fmt.Fprintf(bw, "id          %d\n", s.ID)
		fmt.Fprintf(bw, "type        %s\n", SafeString(s.Format))
		if len(s.References) == 0 {
			bw.WriteString("references  -\n")
		}
		for i, r := range s.References {
			label := "references"
			if i > 0 {
				label = ""
			}
			fmt.Fprintf(bw, "%-10s  %s -> %s version %d\n", label, SafeString(r.Name), SafeString(r.Subject), r.Version)
		}
		bw.WriteByte('\n')
		text := s.Text
		if s.Format != "protobuf" {
			var ind bytes.Buffer
			if json.Indent(&ind, []byte(text), "", "  ") == nil {
				text = ind.String()
			}
		}
		bw.WriteString(SafeText(strings.TrimRight(text, "\n")))
		bw.WriteByte('\n')
		b = bw.Bytes()
	}
	out := bufio.NewWriter(w)
	out.Write(b)
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

func latest(versions []int) int {
	if len(versions) == 0 {
		return 0
	}
	return versions[len(versions)-1]
}

func intList(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func appendIntList(b []byte, v []int) []byte {
	b = append(b, '[')
	for i, n := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return append(b, ']')
}

func appendRefs(b []byte, refs []SchemaRef) []byte {
	b = append(b, '[')
	for i, r := range refs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, r.Name)
		b = append(b, `,"subject":`...)
		b = appendJSONString(b, r.Subject)
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(r.Version), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}
