// Package redistest gives tests the real Redis that scripts/brokers.sh starts:
// its URL from EDDY_TEST_REDIS, skipping without one — or failing, when CI or
// EDDY_REQUIRE_BROKERS say a missing broker must not pass silently.
package redistest

import (
	"os"
	"testing"
)

// URL returns EDDY_TEST_REDIS (redis://127.0.0.1:36379/0 under brokers.sh).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("EDDY_TEST_REDIS")
	if u == "" {
		if os.Getenv("CI") == "true" || os.Getenv("EDDY_REQUIRE_BROKERS") != "" {
			t.Fatal("EDDY_TEST_REDIS is not set, but CI / EDDY_REQUIRE_BROKERS require the real Redis (eval \"$(scripts/brokers.sh up)\")")
		}
		t.Skip("EDDY_TEST_REDIS is not set: skipping a Redis test (eval \"$(scripts/brokers.sh up)\" to run it)")
	}
	return u
}
