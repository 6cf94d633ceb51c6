package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/internal/promtest"
	"go.yaml.in/yaml/v3"
)

// ruleTests are the promtool unit-test files of the rules.
var ruleTests = []string{"eddy-alerts_test.yml", "eddy-alerts-day_test.yml"}

func promtool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(promtest.Promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestRulesPromtool: promtool accepts the rules file and its unit tests
// pass: each alert fires on the series meant to fire it, with its labels and
// its rendered annotations, and not on the others.
func TestRulesPromtool(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("prometheus")
	if out, err := promtool(t, dir, "check", "rules", "eddy-alerts.yml"); err != nil || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	out, err := promtool(t, dir, append([]string{"test", "rules"}, ruleTests...)...)
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// testedAlerts reads the unit tests: for each alert name, whether a case
// expects it to fire and whether one expects it not to.
func testedAlerts(t *testing.T) (fires, quiet map[string]bool) {
	t.Helper()
	fires, quiet = map[string]bool{}, map[string]bool{}
	for _, f := range ruleTests {
		b, err := os.ReadFile(filepath.Join("prometheus", f))
		if err != nil {
			t.Fatal(err)
		}
		var tf struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string           `yaml:"alertname"`
					ExpAlerts []map[string]any `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(b, &tf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	return fires, quiet
}

// TestRulesEveryAlertTested: every alert of the rules file has a unit-test
// case where it fires and one where it does not, and the unit tests notice
// when any one alert stops firing or fires all the time: promtool fails on
// that alert when the rules are swapped for ones that never fire, and for
// ones that always do.
func TestRulesEveryAlertTested(t *testing.T) {
	t.Parallel()
	fires, quiet := testedAlerts(t)
	var alerts []string
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts = append(alerts, r.Alert)
			if !fires[r.Alert] {
				t.Errorf("no unit test where %s fires", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("no unit test where %s does not fire", r.Alert)
			}
		}
	}
	for name := range fires {
		if !strings.Contains(string(AlertRules), "alert: "+name+"\n") {
			t.Errorf("the unit tests test %s, which the rules do not have", name)
		}
	}

	for _, mutant := range []struct{ name, expr string }{
		{"never fires", "vector(1) == 0"},
		{"always fires", "vector(1)"},
	} {
		dir := t.TempDir()
		var doc map[string]any
		if err := yaml.Unmarshal(AlertRules, &doc); err != nil {
			t.Fatal(err)
		}
		for _, g := range doc["groups"].([]any) {
			for _, r := range g.(map[string]any)["rules"].([]any) {
				if rule := r.(map[string]any); rule["alert"] != nil {
					rule["expr"] = mutant.expr
				}
			}
		}
		b, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "eddy-alerts.yml"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range ruleTests {
			tb, err := os.ReadFile(filepath.Join("prometheus", f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), tb, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, err := promtool(t, dir, append([]string{"test", "rules"}, ruleTests...)...)
		if err == nil {
			t.Errorf("with every alert's expression %q (%s) the unit tests pass:\n%s", mutant.expr, mutant.name, out)
			continue
		}
		for _, a := range alerts {
			if !strings.Contains(out, "alertname: "+a+",") {
				t.Errorf("when %s %s, no unit test fails on it", a, mutant.name)
			}
		}
	}
}
