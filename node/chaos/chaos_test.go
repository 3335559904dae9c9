package chaos

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var duration = flag.Duration("chaos.duration", 40*time.Second, "how long the chaos test injects faults (go test ./node/chaos -chaos.duration 10m for a long run)")

// testWriter sends the run's lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// A short chaos run over separate node processes: every fault, then every
// invariant checked on the stores.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("runs separate node processes under faults")
	}
	bin := filepath.Join(t.TempDir(), "jiexu")
	if out, err := exec.Command("go", "build", "-o", bin, "jiexu/cmd/jiexu").CombinedOutput(); err != nil {
		t.Fatalf("build jiexu: %v\n%s", err, out)
	}
	dir := t.TempDir()
	r, err := Run(context.Background(), Options{Binary: bin, Dir: dir, People: 40, Duration: *duration,
		DrainTimeout: 2 * time.Minute, Seed: uint64(time.Now().UnixNano()), Faults: AllFaults(), Out: testWriter{t}})
	if err != nil {
		t.Fatalf("chaos run: %v", err)
	}
	if !r.Drained {
		t.Errorf("the network did not drain within 2 minutes of the last fault")
	}
	if r.KillCycles == 0 || r.Partitions+r.BlackHoles == 0 || r.Transfers == 0 {
		t.Errorf("the run did too little to prove anything: %+v", r)
	}
	for _, v := range r.Violations {
		t.Errorf("violation: %s", v)
	}
	if t.Failed() {
		keep := filepath.Join(os.TempDir(), "jiexu-chaos-"+time.Now().Format("20060102T150405"))
		if err := os.Rename(dir, keep); err == nil {
			t.Logf("the run's folder (logs, stores) is kept in %s", keep)
		}
	}
}
