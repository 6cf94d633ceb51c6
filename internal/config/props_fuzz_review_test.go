package config

import (
	"strings"
	"testing"
)

// FuzzPropsReview: no properties file or JAAS config, however malformed,
// panics eddy, and no error about it repeats the sasl.password the file
// also holds (a key eddy does not know is named by design: the fuzzer's
// own lines are not secrets).
func FuzzPropsReview(f *testing.F) {
	for _, s := range []string{
		"a=b\\", `k=\u12`, `k=\uD83D`, "sasl.jaas.config=x required password=\"pw\"",
		"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username='u' password='pw",
		"security.protocol=SASL_SSL\nsasl.jaas.config=a.Krb5LoginModule required keyTab=\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "p4ss") {
			return
		}
		props, err := ParseProperties(strings.NewReader("sasl.password=p4ss\n"+s), "f")
		if err != nil {
			return
		}
		_, err = PropertiesToConn(props, true, func(string) {})
		if err != nil && strings.Contains(err.Error(), "p4ss") {
			t.Errorf("an error repeats the password: %v", err)
		}
	})
}
