package config

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Java clients keep their CA certificates in a trust store and their client
// certificate and key in a key store, as PEM, JKS or PKCS#12 files; eddy
// reads PEM. These convert, with kept libraries: keystore-go for JKS,
// go-pkcs12 for PKCS#12. A store's format is told by its bytes (JKS's magic
// number, PEM's armour), which is what the Java client does too for JKS and
// PKCS#12; the declared type only settles nothing else.

var jksMagic = []byte{0xfe, 0xed, 0xfe, 0xed}

func storeKind(b []byte, declared string) string {
	switch {
	case bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")):
		return "PEM"
	case bytes.HasPrefix(b, jksMagic):
		return "JKS"
	case strings.EqualFold(declared, "PEM"):
		return "PEM"
	}
	return "PKCS12"
}

// TrustStorePEM reads the trust store at path (ssl.truststore.location):
// its CA certificates as PEM, and whether the file is PEM already (then an
// import points at it instead of copying it). The password is a secret: no
// message contains it.
func TrustStorePEM(path, declared, password string) (pemCA []byte, isPEM bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("trust store: %w", pathErr(err))
	}
	var certs [][]byte
	switch storeKind(b, declared) {
	case "PEM":
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return nil, false, fmt.Errorf("trust store %s: no PEM certificate in it", path)
		}
		return b, true, nil
	case "JKS":
		if password == "" {
			return nil, false, fmt.Errorf("trust store %s is JKS: ssl.truststore.password is needed to check it", path)
		}
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(b), []byte(password)); err != nil {
			return nil, false, fmt.Errorf("trust store %s (JKS): %v (a wrong ssl.truststore.password?)", path, err)
		}
		for _, alias := range ks.Aliases() {
			switch {
			case ks.IsTrustedCertificateEntry(alias):
				e, err := ks.GetTrustedCertificateEntry(alias)
				if err != nil {
					return nil, false, fmt.Errorf("trust store %s (JKS): %s: %v", path, alias, err)
				}
				certs = append(certs, e.Certificate.Content)
			case ks.IsPrivateKeyEntry(alias):
				// A key store given as a trust store: trust its chain's
				// certificates, as the Java client does.
				chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
				if err != nil {
					return nil, false, fmt.Errorf("trust store %s (JKS): %s: %v", path, alias, err)
				}
				for _, c := range chain {
					certs = append(certs, c.Content)
				}
			}
		}
	default:
		cs, err := pkcs12.DecodeTrustStore(b, password)
		if err != nil {
			return nil, false, fmt.Errorf("trust store %s (PKCS#12): %v", path, p12Err(err))
		}
		for _, c := range cs {
			certs = append(certs, c.Raw)
		}
	}
	if len(certs) == 0 {
		return nil, false, fmt.Errorf("trust store %s: no certificate in it", path)
	}
	var out bytes.Buffer
	for _, der := range certs {
		if _, err := x509.ParseCertificate(der); err != nil {
			return nil, false, fmt.Errorf("trust store %s: a certificate that does not parse: %v", path, err)
		}
		pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	return out.Bytes(), false, nil
}

// KeyStorePEM reads the client certificate chain and private key of the key
// store at path (ssl.keystore.location) as PEM. keyPass is the key's own
// password (ssl.key.password), the store's when not given.
func KeyStorePEM(path, declared, storePass, keyPass string) (certPEM, keyPEM []byte, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("key store: %w", pathErr(err))
	}
	var chain [][]byte
	var keyDER []byte
	switch storeKind(b, declared) {
	case "PEM":
		// A PEM key store holds the key and its certificates together.
		for rest := b; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type == "CERTIFICATE" {
				certPEM = append(certPEM, pem.EncodeToMemory(blk)...)
			} else if strings.HasSuffix(blk.Type, "PRIVATE KEY") {
				keyPEM = pem.EncodeToMemory(blk)
			}
		}
		if certPEM == nil || keyPEM == nil {
			return nil, nil, fmt.Errorf("key store %s: want a certificate and its private key in it", path)
		}
		return certPEM, keyPEM, nil
	case "JKS":
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(b), []byte(storePass)); err != nil {
			return nil, nil, fmt.Errorf("key store %s (JKS): %v (a wrong ssl.keystore.password?)", path, err)
		}
		for _, alias := range ks.Aliases() {
			if !ks.IsPrivateKeyEntry(alias) {
				continue
			}
			e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPass))
			if err != nil {
				return nil, nil, fmt.Errorf("key store %s (JKS): key %s: %v (a wrong ssl.key.password?)", path, alias, err)
			}
			keyDER = e.PrivateKey
			for _, c := range e.CertificateChain {
				chain = append(chain, c.Content)
			}
			break
		}
		if keyDER == nil {
			return nil, nil, fmt.Errorf("key store %s (JKS): no private key in it", path)
		}
	default:
		key, cert, cas, err := pkcs12.DecodeChain(b, storePass)
		if err != nil {
			return nil, nil, fmt.Errorf("key store %s (PKCS#12): %v", path, p12Err(err))
		}
		if keyDER, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
			return nil, nil, fmt.Errorf("key store %s (PKCS#12): %v", path, err)
		}
		chain = append(chain, cert.Raw)
		for _, c := range cas {
			chain = append(chain, c.Raw)
		}
	}
	for _, der := range chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func p12Err(err error) string {
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return "wrong password"
	}
	return err.Error()
}

// pathErr is err without the wrapping "open": the path and the reason.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}
