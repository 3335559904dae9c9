package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"jiexu/node/devnet"
)

func TestReconcileCommand(t *testing.T) {
	const hohhot, hulunbuir, baotou = "150100", "150700", "150200"
	l, err := devnet.Init(devnet.Options{Dir: t.TempDir(), Regions: []string{hohhot, hulunbuir, baotou}, People: 2,
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	nw, err := devnet.Start(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Stop()
	nw.StopNode(baotou)
	cfg := l.Nodes[0].ConfigFile
	if l.Nodes[0].Region != hohhot {
		t.Fatalf("the first node is %s, want %s", l.Nodes[0].Region, hohhot)
	}
	today := time.Now().Format("2006-01-02")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"clean", []string{"--peer", hulunbuir}, 0, "0 difference(s)"},
		{"clean since", []string{"--peer", hulunbuir, "--since", today}, 0, "0 difference(s)"},
		{"peer down", []string{"--peer", baotou}, 1, "jiexu reconcile --peer " + baotou},
		{"itself", []string{"--peer", hohhot}, 1, "peer"},
		{"bad day", []string{"--peer", hulunbuir, "--date", "25.11.2026"}, 2, "YYYY-MM-DD"},
		{"both days", []string{"--peer", hulunbuir, "--date", today, "--since", today}, 2, "date"},
		{"no peer", nil, 2, "--peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"reconcile", "--config", cfg}, tc.args...)...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
	code, out, errOut := runCLI(t, "reconcile", "--config", cfg, "--peer", hulunbuir, "--json")
	var got struct {
		Peer string `json:"peer"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Peer != hulunbuir {
		t.Errorf("--json: exit %d, %v, peer %q; want 0 and %s\n%s%s", code, err, got.Peer, hulunbuir, out, errOut)
	}
}

func TestDifferencesExitWith3(t *testing.T) {
	var b strings.Builder
	if code := reportError(&b, nil, differencesError{n: 2}); code != exitDifferences || !strings.Contains(b.String(), "2 difference(s)") {
		t.Errorf("exit %d (%q), want %d naming the differences", code, b.String(), exitDifferences)
	}
}
