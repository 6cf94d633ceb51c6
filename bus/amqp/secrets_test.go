package amqp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/event"
)

// testUser creates a broker user with a password that appears nowhere else,
// so finding it in any output is a leak and not a coincidence.
func testUser(t *testing.T, url string) (user, password string) {
	var b [8]byte
	rand.Read(b[:])
	user = "eddy-test-" + hex.EncodeToString(b[:4])
	password = "Pw:" + hex.EncodeToString(b[4:]) + "@/#?x" // reserved characters: escaped in URLs
	if st := amqptest.Do(t, url, "PUT", "/api/users/"+user, map[string]string{"password": password, "tags": "monitoring"}, nil); st/100 != 2 {
		t.Fatalf("creating user: HTTP %d", st)
	}
	t.Cleanup(func() { amqptest.Do(t, url, "DELETE", "/api/users/"+user, nil, nil) })
	if st := amqptest.Do(t, url, "PUT", "/api/permissions/%2F/"+user, map[string]string{"configure": ".*", "write": ".*", "read": ".*"}, nil); st/100 != 2 {
		t.Fatalf("granting permissions: HTTP %d", st)
	}
	return user, password
}

func withCreds(t *testing.T, base, user, password, vhostPath string) string {
	u, err := neturl.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.User = neturl.UserPassword(user, password)
	u.Path = vhostPath
	return u.String()
}

// TestSecretsNeverShown runs every failure a wrong URL can cause — wrong
// password, unreachable port, unknown vhost, unreachable or wrong management
// API, malformed URLs — through every entry point, with --debug logging on, and
// greps all of it (errors with %v and %+v, logs, String()) for the password in
// any spelling.
func TestSecretsNeverShown(t *testing.T) {
	url := amqptest.URL(t)
	user, password := testUser(t, url)
	good := withCreds(t, url, user, password, "/")
	tp := amqptest.Topology(t, url)
	forms := []string{password, neturl.QueryEscape(password), neturl.PathEscape(password), neturl.UserPassword("u", password).String()[2:]}

	var log bytes.Buffer
	var out []string
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", what)
			return
		}
		out = append(out, fmt.Sprintf("%s: %v | %+v", what, err, err))
	}
	// wantConnect: the AMQP connection fails; wantMgmt: the management API does.
	exercise := func(name, rawurl string, wantConnect, wantMgmt bool, opts ...amqp.Option) {
		t.Helper()
		opts = append(opts, amqp.WithLogger(&log), amqp.WithDialTimeout(3*time.Second))
		c, err := amqp.New(rawurl, opts...)
		if err != nil {
			check(name+": New", err)
			return
		}
		defer c.Close()
		out = append(out, c.String())
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Ping(ctx); wantConnect {
			check(name+": Ping", err)
			if !errors.Is(err, bus.ErrConnect) {
				t.Errorf("%s: Ping = %v, want a ConnectError", name, err)
			}
		} else if err != nil {
			t.Fatalf("%s: Ping: %v", name, err)
		}
		_, err = c.Queues(ctx, nil)
		if wantMgmt {
			check(name+": Queues(all)", err)
		}
		_, err = c.Queues(ctx, []string{tp.Queue})
		if wantConnect && wantMgmt {
			check(name+": Queues(named)", err)
		}
		_, err = c.Source(ctx, queueAddr(tp.Queue), bus.ReadOptions{})
		check(name+": Source", err)
		sink, _ := c.Sink(bus.Address{Transport: "amqp", Exchange: tp.Exchange, RoutingKey: tp.Key})
		err = sink.Write(ctx, []event.Event{{Transport: event.AMQP, Value: []byte("x")}})
		if wantConnect {
			check(name+": Sink.Write", err)
		}
		sink.Close()
	}

	exercise("wrong password", withCreds(t, url, user, password+"-wrong", "/"), true, true)
	exercise("unreachable port", strings.Replace(good, ":5672", ":"+closedPort(t), 1), true, false)
	exercise("unknown vhost", withCreds(t, url, user, password, "/no-such-vhost"), true, true)
	exercise("unreachable management API", good, false, true, amqp.WithManagementURL("http://127.0.0.1:"+closedPort(t)))
	exercise("management API with a wrong password", good, false, true,
		amqp.WithManagementURL(strings.Replace(amqptest.ManagementURL(t, url), "://", "://"+user+":"+neturl.PathEscape(password+"-x")+"@", 1)))
	for _, bad := range []string{
		"amqp://" + user + ":" + password + "@127.0.0.1:5672/", // unescaped reserved characters
		"amqp://" + user + ":" + neturl.PathEscape(password) + "@127.0.0.1:notaport/",
		"amqps://" + user + ":" + neturl.PathEscape(password) + "@[::1/",
	} {
		exercise("malformed URL", bad, true, true)
	}
	exercise("malformed management URL", good, false, true, amqp.WithManagementURL("http://"+user+":"+password+"@[::1"))

	all := strings.Join(out, "\n") + "\n" + log.String()
	for _, f := range forms {
		if strings.Contains(all, f) {
			t.Fatalf("the password (as %q) shows up in:\n%s", f, all)
		}
	}
	if !strings.Contains(all, "authentication failed") || !strings.Contains(all, "connection refused") || !strings.Contains(all, "no-such-vhost") {
		t.Errorf("the causes are not all named:\n%s", all)
	}
	t.Logf("%d bytes of errors and logs checked; e.g.\n%s", len(all), strings.Join(out[:3], "\n"))
}

func TestWrongPasswordIsConnectError(t *testing.T) {
	url := amqptest.URL(t)
	user, password := testUser(t, url)
	c := newClient(t, withCreds(t, url, user, password+"x", "/"))
	err := c.Ping(ctxT(t))
	var ce *bus.ConnectError
	if !errors.As(err, &ce) || !errors.Is(err, amqp.ErrAuth) || !strings.Contains(err.Error(), "authentication failed") ||
		ce.Addr != "127.0.0.1:5672/" || strings.Contains(err.Error(), password) {
		t.Fatalf("err = %v (addr %q), want a ConnectError for authentication without the password", err, ce.Addr)
	}
	ok := newClient(t, withCreds(t, url, user, password, "/"))
	if err := ok.Ping(ctxT(t)); err != nil {
		t.Fatalf("the right password: %v", err)
	}
}
