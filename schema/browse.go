package schema

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddy-sh/eddy/bus"
)

// What eddy schema ls and eddy schema show read from a registry. The types
// are eddy's, not franz-go's, so cmd/eddy imports no franz-go package.

// Registered is one version of a subject: a schema as the registry holds it.
type Registered struct {
	Subject string
	Version int
	ID      int
	// Format is "avro", "protobuf" or "json".
	Format string
	// Text is the schema as registered.
	Text string
	// References are the schemas it imports, each pinned to a version.
	References []Reference
}

// Reference is one reference of a registered schema: the name it is
// imported by and the subject and version it is pinned to.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Subject is one subject of the registry, for eddy schema ls: its versions
// and its latest schema.
type Subject struct {
	Name     string
	Versions []int
	Latest   Registered
}

// listConcurrency bounds the requests List has in flight at once: a
// registry with thousands of subjects is not asked all at once.
const listConcurrency = 8

// Subjects returns the registry's subjects, sorted.
func (c *Client) Subjects(ctx context.Context) ([]string, error) {
	var subjects []string
	err := c.call(ctx, func(ctx context.Context) (err error) {
		subjects, err = c.sr.Subjects(ctx)
		return err
	})
	if err != nil {
		return nil, c.browseError(err, "")
	}
	slices.Sort(subjects)
	return subjects, nil
}

// Versions returns subject's versions, oldest first.
func (c *Client) Versions(ctx context.Context, subject string) ([]int, error) {
	var versions []int
	err := c.call(ctx, func(ctx context.Context) (err error) {
		versions, err = c.sr.SubjectVersions(ctx, subject)
		return err
	})
	if err != nil {
		return nil, c.browseError(err, subject)
	}
	slices.Sort(versions)
	return versions, nil
}

// Schema returns subject's schema at version; -1 is the latest.
func (c *Client) Schema(ctx context.Context, subject string, version int) (Registered, error) {
	var ss sr.SubjectSchema
	err := c.call(ctx, func(ctx context.Context) (err error) {
		ss, err = c.sr.SchemaByVersion(ctx, subject, version)
		return err
	})
	if err != nil {
		var re *sr.ResponseError
		if version > 0 && errors.As(err, &re) && re.ErrorCode == sr.ErrVersionNotFound.Code {
			subject = fmt.Sprintf("%s@%d", subject, version) // which version is missing
		}
		return Registered{}, c.browseError(err, subject)
	}
	return registered(ss), nil
}

// List returns every subject with its versions and latest schema, sorted by
// name. A subject deleted between the listing and its lookup is left out.
func (c *Client) List(ctx context.Context) ([]Subject, error) {
	names, err := c.Subjects(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Subject, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, listConcurrency)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i].Name = name
			if out[i].Versions, errs[i] = c.Versions(ctx, name); errs[i] != nil {
				return
			}
			out[i].Latest, errs[i] = c.Schema(ctx, name, -1)
		}()
	}
	wg.Wait()
	kept := out[:0]
	for i, s := range out {
		var nf *bus.NotFoundError
		switch {
		case errors.As(errs[i], &nf):
			continue
		case errs[i] != nil:
			return nil, errs[i]
		}
		kept = append(kept, s)
	}
	return kept, nil
}

// registered is ss as eddy shows it.
func registered(ss sr.SubjectSchema) Registered {
	r := Registered{Subject: ss.Subject, Version: ss.Version, ID: ss.ID, Text: ss.Schema.Schema, Format: FormatName(ss.Type)}
	for _, ref := range ss.References {
		r.References = append(r.References, Reference{Name: ref.Name, Subject: ref.Subject, Version: ref.Version})
	}
	return r
}

// FormatName is the format word eddy uses for a registry's schema type:
// "avro" (the registry's default), "protobuf" or "json".
func FormatName(t sr.SchemaType) string {
	switch t {
	case sr.TypeProtobuf:
		return "protobuf"
	case sr.TypeJSON:
		return "json"
	}
	return "avro"
}

// browseError is err as eddy says it: the registry's URL (never its
// credentials) and what went wrong. A registry that cannot be reached or
// refuses the credentials is a bus.ConnectError (exit 4); a subject or
// version that does not exist, a bus.NotFoundError.
func (c *Client) browseError(err error, subject string) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		msg := strings.TrimSpace(re.Error())
		switch {
		case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
			return &bus.ConnectError{Transport: "schema registry", Addr: c.url,
				Err: fmt.Errorf("access denied (HTTP %d): %s", re.StatusCode, msg)}
		case re.StatusCode == http.StatusNotFound && subject != "":
			kind := "subject"
			if re.ErrorCode == sr.ErrVersionNotFound.Code {
				kind = "subject version"
			}
			return &bus.NotFoundError{Transport: "schema registry", Kind: kind, Name: subject}
		}
		return fmt.Errorf("schema registry %s: HTTP %d: %s", c.url, re.StatusCode, msg)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &bus.ConnectError{Transport: "schema registry", Addr: c.url, Err: unwrapURL(err)}
}

// unwrapURL drops what franz-go and net/http put before the cause ("unable
// to GET \"http://…/subjects\": Get …: "): the message names the registry
// once, and a request's URL is noise.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
