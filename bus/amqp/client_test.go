package amqp

import (
	"strings"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"amqp://user:s3cret@host:5672/vhost", "amqp://user:****@host:5672/vhost"},
		{"amqps://user:p%40ss@host/", "amqps://user:****@host/"},
		{"amqp://user@host/", "amqp://user@host/"},
		{"amqp://host:5672/", "amqp://host:5672/"},
		{"http://admin:pw@mgmt:15672", "http://admin:****@mgmt:15672"},
		// Unescaped reserved characters: url.Parse fails or misreads; mask to the last '@'.
		{"amqp://user:pa/ss@host/", "amqp://user:****@host/"},
		{"amqp://user:p@ss@host/", "amqp://user:****@host/"},
		{"amqp://user:p#ss@host:5672/", "amqp://user:****@host:5672/"},
		{"user:secret@host", "user:****@host"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestNewNeverEchoesPassword: a malformed URL's error names what is wrong
// without quoting the URL as given.
func TestNewNeverEchoesPassword(t *testing.T) {
	const pw = "Sup3rSecretPw"
	for _, raw := range []string{
		"amqp://u:" + pw + "@host:notaport/",
		"amqp://u:" + pw + "%zz@host/",
		"amqp://u:" + pw + "/x@host/",
		"amqp://u:" + pw + " x@host/",
		"kafka://u:" + pw + "@host/",
		"amqp://u:" + pw + "@/",
		"amqp://u:" + pw + "@host/?heartbeat=" + pw,
		"amqp://u:" + pw + "@[::1/",
		"amqp://u:1234?" + pw + "@host/",
		"amqp://u:" + pw + "@x@host/",
	} {
		_, err := New(raw)
		if err == nil {
			t.Errorf("New(%q) succeeded", raw)
			continue
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "1234") {
			t.Errorf("New error shows the password: %v", err)
		}
	}
	_, err := New("amqp://u:pw@host/", WithManagementURL("http://admin:"+pw+"@[::1"))
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("bad management URL: err = %v", err)
	}
	c, err := New("amqp://u:" + pw + "@host/")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.String(), pw) || c.String() != "amqp://u:****@host/" {
		t.Errorf("String() = %q", c.String())
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Option{WithDialTimeout(0), WithBacklogLimit(0, 1), WithTapLimits(1, 0), WithManagementURL("ftp://x")} {
		if _, err := New("amqp://h/", o); err == nil {
			t.Errorf("an invalid option was accepted")
		}
	}
	c, err := New("amqps://u:p@broker.example/prod", WithDialTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if c.mgmt.base != "https://broker.example:15671" || c.addr != "broker.example:5671/prod" || c.Vhost() != "prod" {
		t.Errorf("derived: mgmt %q addr %q vhost %q", c.mgmt.base, c.addr, c.Vhost())
	}
	c, _ = New("amqp://u:p@h/", WithManagementURL("http://admin:apw@m:8080/rmq/"))
	if c.mgmt.base != "http://m:8080/rmq" || c.mgmt.user != "admin" || c.mgmt.pass != "apw" || c.addr != "h:5672/" {
		t.Errorf("explicit: mgmt %q user %q addr %q", c.mgmt.base, c.mgmt.user, c.addr)
	}
	if got := c.mgmt.path("queues", "/", "a/b"); got != "/api/queues/%2F/a%2Fb" {
		t.Errorf("path = %q", got)
	}
}
