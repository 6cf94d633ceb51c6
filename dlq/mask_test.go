package dlq

import "testing"

func TestMaskError(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"acme-pay: no answer within 2000 ms for order ord-7f3a after 3 attempts", "acme-pay: no answer within <n> ms for order <id> after <n> attempts"},
		{"cannot reserve SKU-1234 for order 4b1e2c9a-0d4e-4f7a-9a1b-2c3d4e5f6a7b: SKU is not in the catalog", "cannot reserve <id> for order <id>: SKU is not in the catalog"},
		{`customer "Robert'); DROP" not found`, `customer "…" not found`},
		{"value 'abc' at `x.y` rejected", "value '…' at `…` rejected"},
		{"don't retry: it's final", "don't retry: it's final"},
		{"card declined", "card declined"},
		{"timeout after 1.5s.", "timeout after <id>."},
		{"amount 12.50, limit 10.", "amount <n>, limit <n>."},
		{"unterminated \"quote 42", "unterminated \"quote <n>"},
		{"line 1\nline 2", "line <n>\nline <n>"},
		{"", ""},
	} {
		if got := MaskError(c.in); got != c.want {
			t.Errorf("MaskError(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
