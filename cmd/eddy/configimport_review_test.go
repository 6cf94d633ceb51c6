package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigImportReviewDistinctPasswordFiles: two contexts whose names
// differ only where a file name cannot (kafkactl's "prod eu" and
// "prod_eu") each keep their own password; the second one imported must
// not overwrite the first one's password file.
func TestConfigImportReviewDistinctPasswordFiles(t *testing.T) {
	env, cfgPath := importEnv(t)
	src := filepath.Join(t.TempDir(), "config.yml")
	os.WriteFile(src, []byte(`contexts:
  prod eu:
    brokers: [127.0.0.1:9092]
    sasl: {enabled: true, username: a, password: pw-one-s3cret, mechanism: plaintext}
  prod_eu:
    brokers: [127.0.0.1:9092]
    sasl: {enabled: true, username: b, password: pw-two-s3cret, mechanism: plaintext}
current-context: prod eu
`), 0o600)
	code, out, errOut := runEddy(t, env, "config", "import", "kafkactl", src, "--all")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	noSecret(t, cfgPath, out+errOut, "pw-one-s3cret", "pw-two-s3cret")
	c := loadConfig(t, cfgPath)
	one, two := c.Contexts["prod eu"].Kafka.SASL.PasswordFile, c.Contexts["prod_eu"].Kafka.SASL.PasswordFile
	if one == two {
		t.Fatalf("both contexts keep their password in %s", one)
	}
	secretFile(t, one, "pw-one-s3cret")
	secretFile(t, two, "pw-two-s3cret")

	// A later import of another name that maps to the same file name leaves
	// the existing contexts' passwords alone.
	src2 := filepath.Join(t.TempDir(), "config.yml")
	os.WriteFile(src2, []byte(`contexts:
  prod/eu:
    brokers: [127.0.0.1:9092]
    sasl: {enabled: true, username: c, password: pw-three-s3cret, mechanism: plaintext}
current-context: prod/eu
`), 0o600)
	if code, _, errOut := runEddy(t, env, "config", "import", "kafkactl", src2); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	secretFile(t, one, "pw-one-s3cret")
	secretFile(t, two, "pw-two-s3cret")
	c = loadConfig(t, cfgPath)
	secretFile(t, c.Contexts["prod/eu"].Kafka.SASL.PasswordFile, "pw-three-s3cret")
}

// TestConfigImportReviewFailedImportChangesNothing: an import that fails
// while writing its files (here: the Schema Registry password's path is
// taken by a directory) leaves the existing context and its password file
// as they were. It used to have written the new Kafka password into the
// old context's password file already, so the unchanged context logged in
// with another cluster's password.
func TestConfigImportReviewFailedImportChangesNothing(t *testing.T) {
	env, cfgPath := importEnv(t)
	write := func(pw string) string {
		p := filepath.Join(t.TempDir(), "config")
		os.WriteFile(p, []byte(`current-cluster: prod
clusters:
- name: prod
  brokers: [127.0.0.1:9092]
  SASL: {mechanism: PLAIN, username: u, password: `+pw+`}
  schema-registry-url: http://127.0.0.1:8081
  schema-registry-credentials: {username: sr, password: sr-`+pw+`}
`), 0o600)
		return p
	}
	if code, _, errOut := runEddy(t, env, "config", "import", "kaf", write("old-s3cret")); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	c := loadConfig(t, cfgPath)
	pwFile := c.Contexts["prod"].Kafka.SASL.PasswordFile
	srFile := c.Contexts["prod"].SchemaRegistry.PasswordFile
	secretFile(t, pwFile, "old-s3cret")
	before, _ := os.ReadFile(cfgPath)

	// The next import cannot write the Schema Registry password file.
	os.Remove(srFile)
	if err := os.Mkdir(srFile, 0o700); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runEddy(t, env, "config", "import", "kaf", write("new-s3cret"), "--force")
	if code == 0 {
		t.Fatalf("exit 0 although %s is a directory", srFile)
	}
	noSecret(t, cfgPath, out+errOut, "new-s3cret", "old-s3cret")
	secretFile(t, pwFile, "old-s3cret")
	after, _ := os.ReadFile(cfgPath)
	if string(before) != string(after) {
		t.Errorf("the config changed:\n%s\nwas\n%s", after, before)
	}
	ents, _ := os.ReadDir(filepath.Dir(cfgPath))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a temporary file was left behind: %s", e.Name())
		}
	}
}

// TestConfigImportReviewPasswordNeverInAWiderFile: re-importing over an
// existing password file that someone made world-readable writes the new
// password into a 0600 file, never into the 0644 one first.
func TestConfigImportReviewPasswordNeverInAWiderFile(t *testing.T) {
	env, cfgPath := importEnv(t)
	src := filepath.Join(t.TempDir(), "client.properties")
	os.WriteFile(src, []byte("bootstrap.servers=127.0.0.1:9092\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=u\nsasl.password=first-s3cret\n"), 0o600)
	if code, _, errOut := runEddy(t, env, "config", "import", "properties", src, "--name", "p"); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	pwFile := loadConfig(t, cfgPath).Contexts["p"].Kafka.SASL.PasswordFile
	// A hard link sees the inode the password goes into: a write in place
	// puts it into this world-readable file too.
	spy := filepath.Join(filepath.Dir(cfgPath), "spy")
	if err := os.Link(pwFile, spy); err != nil {
		t.Skip(err)
	}
	os.Chmod(spy, 0o644)
	os.WriteFile(src, []byte("bootstrap.servers=127.0.0.1:9092\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=u\nsasl.password=second-s3cret\n"), 0o600)
	if code, _, errOut := runEddy(t, env, "config", "import", "properties", src, "--name", "p", "--force"); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	secretFile(t, pwFile, "second-s3cret")
	if b, _ := os.ReadFile(spy); strings.Contains(string(b), "second-s3cret") {
		t.Errorf("the new password was written in place, into a file of mode 0644 (seen through a link)")
	}
}

// TestConfigImportReviewCaseFoldedNames: "Prod" and "prod" imported
// together keep two password files whose names differ by more than case,
// so that a case-insensitive file system (macOS's default) does not make
// them one.
func TestConfigImportReviewCaseFoldedNames(t *testing.T) {
	env, cfgPath := importEnv(t)
	src := filepath.Join(t.TempDir(), "config.yml")
	os.WriteFile(src, []byte(`contexts:
  Prod: {brokers: [127.0.0.1:9092], sasl: {enabled: true, username: a, password: pw-A-s3cret}}
  prod: {brokers: [127.0.0.1:9092], sasl: {enabled: true, username: b, password: pw-b-s3cret}}
`), 0o600)
	if code, _, errOut := runEddy(t, env, "config", "import", "kafkactl", src, "--all"); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	c := loadConfig(t, cfgPath)
	one, two := c.Contexts["Prod"].Kafka.SASL.PasswordFile, c.Contexts["prod"].Kafka.SASL.PasswordFile
	if strings.EqualFold(one, two) {
		t.Fatalf("the two contexts' password files differ only by case: %s, %s", one, two)
	}
	secretFile(t, one, "pw-A-s3cret")
	secretFile(t, two, "pw-b-s3cret")
}
