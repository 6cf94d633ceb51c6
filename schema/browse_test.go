package schema

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-sh/eddy/bus"
)

// TestBrowse: Subjects, Versions, Schema (a version, the latest) and List
// read a registry as eddy schema ls and show show it: references pinned,
// the format as eddy names it; List asks for many subjects at once, within
// its bound.
func TestBrowse(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	reg.SeedSchema("common", 1, 1, sr.Schema{Schema: `syntax = "proto3"; package c; message M {}`, Type: sr.TypeProtobuf})
	reg.SeedSchema("orders-value", 1, 2, sr.Schema{Schema: `syntax = "proto3"; import "c.proto"; message O { c.M m = 1; }`, Type: sr.TypeProtobuf,
		References: []sr.SchemaReference{{Name: "c.proto", Subject: "common", Version: 1}}})
	reg.SeedSchema("orders-value", 2, 3, sr.Schema{Schema: `syntax = "proto3"; message O {}`, Type: sr.TypeProtobuf})
	for i := range 40 {
		reg.SeedSchema(fmt.Sprintf("s%02d-value", i), 1, 100+i, sr.Schema{Schema: `{"type":"string"}`})
	}
	reg.SeedSchema("j", 1, 200, sr.Schema{Schema: `{"type":"object"}`, Type: sr.TypeJSON})
	c, err := NewClient(RegistryConfig{URL: reg.URL()}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, err := c.Versions(ctx, "orders-value"); err != nil || !slices.Equal(v, []int{1, 2}) {
		t.Errorf("Versions: %v %v", v, err)
	}
	s, err := c.Schema(ctx, "orders-value", 1)
	want := Registered{Subject: "orders-value", Version: 1, ID: 2, Format: "protobuf", Text: `syntax = "proto3"; import "c.proto"; message O { c.M m = 1; }`,
		References: []Reference{{Name: "c.proto", Subject: "common", Version: 1}}}
	if err != nil || s.Subject != want.Subject || s.Version != 1 || s.ID != 2 || s.Format != "protobuf" || s.Text != want.Text || !slices.Equal(s.References, want.References) {
		t.Errorf("Schema(orders-value, 1) = %+v, %v", s, err)
	}
	if s, err := c.Schema(ctx, "orders-value", -1); err != nil || s.Version != 2 || s.ID != 3 || len(s.References) != 0 {
		t.Errorf("Schema(orders-value, latest) = %+v, %v", s, err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 43 {
		t.Fatalf("List: %d subjects, %v", len(list), err)
	}
	if list[0].Name != "common" || list[1].Name != "j" || list[1].Latest.Format != "json" || list[2].Name != "orders-value" ||
		!slices.Equal(list[2].Versions, []int{1, 2}) || list[2].Latest.ID != 3 || list[3].Latest.Format != "avro" {
		t.Errorf("List: %+v", list[:4])
	}

	var nf *bus.NotFoundError
	if _, err := c.Schema(ctx, "nope", -1); !errors.As(err, &nf) || nf.Kind != "subject" {
		t.Errorf("an unknown subject: %v", err)
	}
	if _, err := c.Schema(ctx, "orders-value", 7); !errors.As(err, &nf) || nf.Kind != "subject version" {
		t.Errorf("an unknown version: %v", err)
	}
}

// TestBrowseErrors: a registry that refuses the credentials, or cannot be
// reached, is a bus.ConnectError (exit 4) naming the registry's URL without
// its credentials; neither the password nor the token is in any message.
func TestBrowseErrors(t *testing.T) {
	reg := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte("u:good-secret"))))
	defer reg.Close()
	ctx := context.Background()
	for _, rc := range []RegistryConfig{
		{URL: reg.URL(), Username: "u", Password: "bad-secret"},
		{URL: strings.Replace(reg.URL(), "http://", "http://u:bad-secret@", 1)},
		{URL: reg.URL(), Token: "bad-secret"},
	} {
		c, err := NewClient(rc, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Subjects(ctx)
		var ce *bus.ConnectError
		if !errors.As(err, &ce) || !errors.Is(err, bus.ErrConnect) || ce.Addr != reg.URL() || strings.Contains(err.Error(), "bad-secret") ||
			!strings.Contains(err.Error(), "access denied (HTTP 403)") {
			t.Errorf("%+v: %v", rc.URL, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	c, err := NewClient(RegistryConfig{URL: down, Username: "u", Password: "bad-secret"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(ctx)
	var ce *bus.ConnectError
	if !errors.As(err, &ce) || ce.Addr != down || strings.Contains(err.Error(), "bad-secret") || strings.Contains(err.Error(), "/subjects") {
		t.Errorf("down: %v", err)
	}
}
