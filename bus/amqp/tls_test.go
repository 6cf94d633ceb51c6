package amqp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// tlsFiles builds the client TLS config the way eddy's flags do.
func tlsFiles(t *testing.T, f bus.TLSFiles) *tls.Config {
	t.Helper()
	c, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// brokerConn is a connection as the management API lists it.
type brokerConn struct {
	User             string `json:"user"`
	SSL              bool   `json:"ssl"`
	AuthMechanism    string `json:"auth_mechanism"`
	ClientProperties struct {
		ConnectionName string `json:"connection_name"`
	} `json:"client_properties"`
}

// waitForConn waits until the broker lists a TLS connection of user logged
// in with mechanism (the management API's statistics lag a few seconds).
func waitForConn(t *testing.T, plainURL, user, mechanism string) {
	t.Helper()
	amqptest.Eventually(t, 30*time.Second, "a TLS connection of "+user+" by "+mechanism, func() bool {
		var conns []brokerConn
		amqptest.Get(t, plainURL, "/api/connections", &conns)
		for _, c := range conns {
			if c.User == user && c.SSL && c.AuthMechanism == mechanism && strings.HasPrefix(c.ClientProperties.ConnectionName, "eddy ") {
				return true
			}
		}
		return false
	})
}

// TestTLSServerVerification: amqps:// and the management API over HTTPS with
// the CA that signed the broker's certificate work (a live tail sees what is
// published; queue details come from the HTTPS API); any other CA, or the
// system's roots, or a name the certificate does not hold, fail closed with
// a connect error (exit 4) that says why in one sentence — for the
// management API too, which is not then quietly replaced by passive declares.
func TestTLSServerVerification(t *testing.T) {
	b := amqptest.TLS(t)
	plain := amqptest.URL(t)
	tp := amqptest.Topology(t, plain)
	ca := tlsFiles(t, bus.TLSFiles{CA: b.File("ca.pem")})

	t.Run("right CA", func(t *testing.T) {
		c := newClient(t, b.URL, amqp.WithTLS(ca), amqp.WithManagementURL(b.ManagementURL))
		if err := c.Ping(ctxT(t)); err != nil {
			t.Fatalf("Ping over TLS with the broker's CA: %v", err)
		}
		qi, err := c.Queues(ctxT(t), []string{tp.Queue})
		if err != nil || qi[0].Via != "management" {
			t.Fatalf("Queues over the HTTPS management API: %+v, %v", qi, err)
		}
		src := open(t, c, tp.Queue, bus.ReadOptions{})
		tp.Publish(t, msgs(3, "tls-")...)
		if got := bodies(readN(t, src, 3)); got != "tls-0,tls-1,tls-2" {
			t.Fatalf("live tail over TLS read %s", got)
		}
	})

	t.Run("CA from the URL", func(t *testing.T) {
		// RabbitMQ's URI spec: ?cacertfile=, used without WithTLS, and for the
		// management API as well.
		u := b.URL + "?cacertfile=" + url.QueryEscape(b.File("ca.pem"))
		c := newClient(t, u, amqp.WithManagementURL(b.ManagementURL))
		if err := c.Ping(ctxT(t)); err != nil {
			t.Fatalf("Ping with ?cacertfile: %v", err)
		}
		if qi, err := c.Queues(ctxT(t), []string{tp.Queue}); err != nil || qi[0].Via != "management" {
			t.Fatalf("Queues with ?cacertfile: %+v, %v", qi, err)
		}
	})

	for _, tc := range []struct {
		name string
		tls  *tls.Config
		want string
	}{
		{"other CA", tlsFiles(t, bus.TLSFiles{CA: b.File("other-ca.pem")}), "the broker's certificate is not signed by a trusted CA (--tls-ca"},
		{"system roots", tlsFiles(t, bus.TLSFiles{}), "the broker's certificate is not signed by a trusted CA (--tls-ca"},
		{"wrong name", tlsFiles(t, bus.TLSFiles{CA: b.File("ca.pem"), ServerName: "rabbit.example"}), `the broker's certificate is not valid for "rabbit.example" (--tls-server-name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, b.URL, amqp.WithTLS(tc.tls), amqp.WithDialTimeout(5*time.Second))
			err := c.Ping(ctxT(t))
			if !errors.Is(err, bus.ErrConnect) || errors.Is(err, amqp.ErrAuth) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Ping = %v; want a connect error saying %q", err, tc.want)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Fatalf("not one line: %q", err)
			}
		})
	}

	t.Run("no secret shown", func(t *testing.T) {
		// A password of its own over TLS: refused (a wrong one), and not
		// trusted (another CA); neither the password nor any key material
		// shows in the errors or the debug log.
		user, password := testUser(t, plain)
		forms := []string{password, url.QueryEscape(password), url.PathEscape(password), url.UserPassword("u", password).String()[2:]}
		bu, _ := url.Parse(b.URL)
		var log strings.Builder
		for _, tc := range []struct {
			name, pass string
			tls        *tls.Config
			want       string
		}{
			{"wrong password", password + "x", tlsFiles(t, bus.TLSFiles{CA: b.File("ca.pem"), Cert: b.File("stranger.pem"), Key: b.File("stranger.key")}),
				"authentication failed: the broker refused the username or password"},
			{"other CA", password, tlsFiles(t, bus.TLSFiles{CA: b.File("other-ca.pem")}), "not signed by a trusted CA"},
		} {
			u := *bu
			u.User = url.UserPassword(user, tc.pass)
			mgmt := strings.Replace(b.ManagementURL, "https://", "https://"+url.UserPassword(user, tc.pass).String()+"@", 1)
			c := newClient(t, u.String(), amqp.WithTLS(tc.tls), amqp.WithManagementURL(mgmt), amqp.WithLogger(&log), amqp.WithDialTimeout(5*time.Second))
			err := c.Ping(ctxT(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s: Ping = %v; want %q", tc.name, err, tc.want)
			}
			_, qerr := c.Queues(ctxT(t), nil)
			all := fmt.Sprintf("%v %+v %v %+v %s %s", err, err, qerr, qerr, c, log.String())
			for _, f := range append(forms, "PRIVATE KEY", tc.pass) {
				if strings.Contains(all, f) {
					t.Fatalf("%s: %q shows in %s", tc.name, f, all)
				}
			}
		}
	})

	t.Run("management API, other CA", func(t *testing.T) {
		// AMQP in the clear, so only the HTTPS API's certificate is in question.
		c := newClient(t, plain, amqp.WithManagementURL(b.ManagementURL),
			amqp.WithTLS(tlsFiles(t, bus.TLSFiles{CA: b.File("other-ca.pem")})), amqp.WithDialTimeout(5*time.Second))
		for _, names := range [][]string{nil, {tp.Queue}} {
			qi, err := c.Queues(ctxT(t), names)
			const want = "the management API's certificate is not signed by a trusted CA"
			if !errors.Is(err, bus.ErrConnect) || !errors.Is(err, amqp.ErrManagement) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Queues(%v) = %+v, %v; want a connect error saying %q (not a fallback to passive declares)", names, qi, err, want)
			}
		}
	})
}

// TestTLSExternal: with a client certificate and no password in the URL,
// eddy logs in with EXTERNAL as the certificate's CN (as it does when the URL
// asks for auth_mechanism=external); a password in the URL keeps PLAIN; a
// certificate whose CN is no user is refused with ErrAuth and a sentence that
// says the certificate was refused.
func TestTLSExternal(t *testing.T) {
	b := amqptest.TLS(t)
	plain := amqptest.URL(t)
	tp := amqptest.Topology(t, plain)
	bu, err := url.Parse(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	host := bu.Host + "/"
	client := tlsFiles(t, bus.TLSFiles{CA: b.File("ca.pem"), Cert: b.File("client.pem"), Key: b.File("client.key")})

	t.Run("no password", func(t *testing.T) {
		// A user and no password: PLAIN would try nobody:guest and be refused.
		// The management API takes only basic auth: its own credentials.
		mgmt := strings.Replace(b.ManagementURL, "https://", "https://guest:guest@", 1)
		c := newClient(t, "amqps://nobody@"+host, amqp.WithTLS(client), amqp.WithManagementURL(mgmt))
		if err := c.Ping(ctxT(t)); err != nil {
			t.Fatalf("Ping with the client certificate: %v", err)
		}
		waitForConn(t, plain, amqptest.ExternalUser, "EXTERNAL")
		src := open(t, c, tp.Queue, bus.ReadOptions{})
		tp.Publish(t, msgs(2, "ext-")...)
		if got := bodies(readN(t, src, 2)); got != "ext-0,ext-1" {
			t.Fatalf("tail as %s read %s", amqptest.ExternalUser, got)
		}
	})

	t.Run("management API without credentials", func(t *testing.T) {
		// Nothing to lend it: no guest password goes to the API, and the
		// error says what to give it.
		c := newClient(t, "amqps://"+host, amqp.WithTLS(client), amqp.WithManagementURL(b.ManagementURL))
		_, err := c.Queues(ctxT(t), nil)
		if !errors.Is(err, amqp.ErrManagement) || !strings.Contains(err.Error(), "answered 401: it needs a user and password") {
			t.Fatalf("Queues without management credentials = %v", err)
		}
	})

	t.Run("auth_mechanism=external", func(t *testing.T) {
		// The certificate, from the URL's parameters; the user name in the
		// URL is not what logs in.
		u := "amqps://someone@" + host + "?auth_mechanism=external&cacertfile=" + url.QueryEscape(b.File("ca.pem")) +
			"&certfile=" + url.QueryEscape(b.File("client.pem")) + "&keyfile=" + url.QueryEscape(b.File("client.key"))
		c := newClient(t, u)
		if err := c.Ping(ctxT(t)); err != nil {
			t.Fatalf("Ping with auth_mechanism=external: %v", err)
		}
	})

	t.Run("password keeps PLAIN", func(t *testing.T) {
		// The stranger's certificate: EXTERNAL would be refused, guest's
		// password is not.
		stranger := tlsFiles(t, bus.TLSFiles{CA: b.File("ca.pem"), Cert: b.File("stranger.pem"), Key: b.File("stranger.key")})
		c := newClient(t, b.URL, amqp.WithTLS(stranger))
		if err := c.Ping(ctxT(t)); err != nil {
			t.Fatalf("Ping as guest with a client certificate: %v", err)
		}
	})

	t.Run("stranger", func(t *testing.T) {
		stranger := tlsFiles(t, bus.TLSFiles{CA: b.File("ca.pem"), Cert: b.File("stranger.pem"), Key: b.File("stranger.key")})
		c := newClient(t, "amqps://"+host, amqp.WithTLS(stranger), amqp.WithDialTimeout(5*time.Second))
		err := c.Ping(ctxT(t))
		const want = "authentication failed: the broker refused the client certificate"
		if !errors.Is(err, amqp.ErrAuth) || !errors.Is(err, bus.ErrConnect) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Ping with a certificate whose CN is no user = %v; want ErrAuth saying %q", err, want)
		}
	})

	t.Run("client certificate from an unknown CA", func(t *testing.T) {
		// A self-signed certificate with the user's CN is no way in:
		// RabbitMQ 3.10 lets it through the TLS handshake (verify_peer, no
		// fail_if_no_peer_cert) and EXTERNAL refuses it; a broker that
		// ends the handshake instead gets the TLS-alert sentence. Either
		// way, authentication failed.
		self := tlsFiles(t, bus.TLSFiles{CA: b.File("ca.pem")})
		self.Certificates = []tls.Certificate{selfSigned(t)}
		c := newClient(t, "amqps://"+host, amqp.WithTLS(self), amqp.WithDialTimeout(5*time.Second))
		err := c.Ping(ctxT(t))
		if !errors.Is(err, amqp.ErrAuth) || !errors.Is(err, bus.ErrConnect) || !strings.Contains(err.Error(), "authentication failed: the broker refused the ") {
			t.Fatalf("Ping with a self-signed client certificate = %v; want ErrAuth, authentication failed", err)
		}
	})

	t.Run("unknown auth_mechanism", func(t *testing.T) {
		_, err := amqp.New(b.URL + "?auth_mechanism=kerberos")
		if err == nil || !strings.Contains(err.Error(), `auth_mechanism "kerberos": want plain, amqplain or external`) || strings.Contains(err.Error(), "guest:guest") {
			t.Fatalf("New = %v", err)
		}
	})
}

// selfSigned makes a client certificate that no CA signed.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: amqptest.ExternalUser},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
