package devnet_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"jiexu/node/devnet"
)

// TestDemo runs the README's first command as a test: every story of the
// demo reaches its end on both sides and the balances are conserved. A
// change to the transfer that breaks a story (a resident who no longer
// waits for a suspension) fails here, not on a new user's machine.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := devnet.Demo(context.Background(), devnet.DemoOptions{Dir: t.TempDir(), Out: &out}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"OK: 17 cases reached their expected end on both sides.", "基本医疗保障参保（合）凭证"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
