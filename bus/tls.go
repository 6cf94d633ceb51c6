package bus

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSFiles are TLS settings as a user gives them: paths to PEM files and two
// switches. Both the Kafka and the AMQP adapters turn them into a *tls.Config
// with Config, so that the flags, the config file and the errors are the same
// for every transport.
type TLSFiles struct {
	// CA is a PEM file of the certificate authorities that sign the brokers'
	// certificates. Empty means the system's roots.
	CA string
	// Cert and Key are a PEM client certificate and its private key, for
	// brokers that authenticate clients by certificate (mTLS). Both or neither.
	Cert, Key string
	// ServerName overrides the name checked against the broker's certificate,
	// for brokers reached through an address their certificate does not name.
	ServerName string
	// Insecure skips verifying the broker's certificate. It exists for test
	// clusters with self-signed certificates; callers print a warning when it
	// is set, because it makes the connection open to interception.
	Insecure bool
}

// Config builds the *tls.Config. Every error names the file that could not be
// used and why, so a typo in a path is found from one line.
func (f TLSFiles) Config() (*tls.Config, error) {
	// TLS 1.2 is the floor every broker eddy talks to supports; older versions
	// have known weaknesses.
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName, InsecureSkipVerify: f.Insecure} //nolint:gosec // Insecure is an explicit user choice, warned about by the caller
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("TLS CA file: %w", pathErr(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA file %s: no PEM certificate in it", f.CA)
		}
		c.RootCAs = pool
	}
	switch {
	case f.Cert != "" && f.Key == "":
		return nil, fmt.Errorf("TLS client certificate %s given without its key file", f.Cert)
	case f.Cert == "" && f.Key != "":
		return nil, fmt.Errorf("TLS client key %s given without its certificate file", f.Key)
	case f.Cert != "":
		certPEM, err := os.ReadFile(f.Cert)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", pathErr(err))
		}
		keyPEM, err := os.ReadFile(f.Key)
		if err != nil {
			return nil, fmt.Errorf("TLS client key: %w", pathErr(err))
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// X509KeyPair cannot say which of the two files is wrong; name
			// both. Its message never contains key material.
			return nil, fmt.Errorf("TLS client certificate %s and key %s: %v", f.Cert, f.Key, err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// pathErr keeps an *os.PathError's path and reason ("open ca.pem: no such file
// or directory") and nothing else.
func pathErr(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
