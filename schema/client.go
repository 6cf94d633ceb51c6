package schema

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// Client is a Schema Registry client: franz-go's sr.Client with eddy's
// timeout, and errors that never carry a secret.
type Client struct {
	sr      *sr.Client
	url     string // without userinfo, for messages
	timeout time.Duration
}

// NewClient makes a client for rc; it does not contact the registry.
func NewClient(rc RegistryConfig, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(rc.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("schema registry %q: not an http(s) URL", redactURL(rc.URL))
	}
	user, pass := rc.Username, rc.Password
	if u.User != nil { // https://user:pass@host: credentials in the URL
		if user == "" {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
		u.User = nil
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if rc.TLS != nil {
		tr.TLSClientConfig = rc.TLS
	}
	opts := []sr.ClientOpt{
		sr.URLs(u.String()),
		sr.HTTPClient(&http.Client{Transport: limitedTransport{tr}, Timeout: timeout}),
		sr.UserAgent("eddy"),
	}
	switch {
	case rc.Token != "":
		opts = append(opts, sr.BearerToken(rc.Token))
	case user != "":
		opts = append(opts, sr.BasicAuth(user, pass))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: %v", u.Redacted(), err)
	}
	return &Client{sr: cl, url: u.String(), timeout: timeout}, nil
}

// SR is the underlying franz-go client.
func (c *Client) SR() *sr.Client { return c.sr }

// URL is the registry's URL, without credentials.
func (c *Client) URL() string { return c.url }

// Timeout is the bound on each call.
func (c *Client) Timeout() time.Duration { return c.timeout }

// call runs fn with the client's timeout.
func (c *Client) call(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return fn(ctx)
}

// FailReason maps a registry error to the one-word reason an event shows:
// event.FailDenied for 401/403, event.FailUnknownSchema for 404,
// event.FailRegistry for anything else (down, timed out, 5xx, and an
// answer that is not the API's: not JSON, an unknown schemaType, past
// maxRegistryResponse), which is asked again after failRetry.
func FailReason(err error) string {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
			return "denied"
		case re.StatusCode == http.StatusNotFound:
			return "unknown-schema"
		}
	}
	return "registry-down"
}

// maxRegistryResponse bounds one registry answer. franz-go's client reads
// a whole body into memory; a registry (or a proxy in front of one) that
// streams without end would otherwise hold up to --timeout worth of bytes.
// Real answers are a schema's text and some JSON around it.
var maxRegistryResponse int64 = 64 << 20

// limitedTransport fails a response body past maxRegistryResponse.
type limitedTransport struct{ rt http.RoundTripper }

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err == nil {
		resp.Body = &limitedBody{ReadCloser: resp.Body, left: maxRegistryResponse}
	}
	return resp, err
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errResponseTooLarge
	}
	// One byte past the bound tells "exactly the bound" from "more".
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if b.left -= int64(n); b.left < 0 {
		return n, errResponseTooLarge
	}
	return n, err
}

var errResponseTooLarge = errors.New("registry response too large")

// redactURL drops userinfo from a URL for a message, even an unparsable one.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "xxxxx@" + s[i+1:]
		}
	}
	return s
}
