package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"jiexu/node"
	"jiexu/node/rules"
	"jiexu/node/store"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// runBounded runs the binary, bounded, and returns its output and exit code;
// a death by signal (SIGBUS, SIGSEGV) fails the test.
func runBounded(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case ctx.Err() != nil:
		t.Fatalf("jiexu %s did not finish within 60s:\n%s", strings.Join(args, " "), out)
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("jiexu %s died of %v:\n%s", strings.Join(args, " "), ws.Signal(), out)
		}
		return string(out), ee.ExitCode()
	default:
		t.Fatalf("jiexu %s: %v", strings.Join(args, " "), err)
	}
	return "", -1
}

func copyPath(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// suspendNext suspends the next person at the node and returns the
// certificate serial issued.
func suspendNext(t *testing.T, c jiexuv1.AgencyServiceClient, people []*jiexuv1.Enrolment) uint32 {
	t.Helper()
	for _, e := range people {
		p := e.GetPeriods()[len(e.GetPeriods())-1]
		if p.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
			continue
		}
		last := rules.YearMonthOf(time.Now().AddDate(0, -1, 0))
		if rules.MonthIndex(last) < rules.MonthIndex(p.GetEnrolledFrom()) {
			last = p.GetEnrolledFrom()
		}
		resp, err := c.SuspendEnrolment(context.Background(), &jiexuv1.SuspendEnrolmentRequest{IdNumber: e.GetPerson().GetIdNumber(), LastMonth: last})
		if err != nil {
			t.Fatalf("suspend: %v", err)
		}
		p.Status = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED
		ps := resp.GetEnrolment().GetPeriods()
		number := ps[len(ps)-1].GetCertificateNumber()
		n, err := rules.ParseCertNumber(number)
		if err != nil {
			t.Fatalf("certificate number %q: %v", number, err)
		}
		return n.Serial
	}
	t.Fatal("nobody left to suspend")
	return 0
}

// Finding 3 and 4 of the fault report, with the real binary: no damaged
// store crashes 'node serve' or 'node verify-backup', each says what to do,
// a store put back from a backup or an older copy is refused, and 'node
// restore' puts it back safely: serials never repeat.
func TestDamagedAndRestoredStores(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const region = "150100"
	dir := t.TempDir()
	jiexu(t, "devnet", "init", "--dir", dir, "--regions", region+",150700", "--people", "8")
	cfgFile := filepath.Join(dir, "nodes", region, "node.json")
	cfg, err := node.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	dbFile := filepath.Join(cfg.DataDir, store.FileName)
	log := filepath.Join(dir, "node.log")
	proc := start(t, log, "node", "serve", "--config", cfgFile)
	c := agencyOf(t, cfgFile)
	jiexu(t, "records", "import", "--config", cfgFile, filepath.Join(dir, "nodes", region, "records.csv"))
	people := devnetPeople(t, context.Background(), c)
	var list []*jiexuv1.Enrolment
	for _, e := range people {
		list = append(list, e)
	}
	serials := map[uint32]bool{}
	for range 2 {
		serials[suspendNext(t, c, list)] = true
	}
	proc.kill(syscall.SIGTERM)
	older := filepath.Join(dir, "older.db") // a plain copy, taken while stopped
	copyPath(t, dbFile, older)

	proc.start()
	c = agencyOf(t, cfgFile)
	serials[suspendNext(t, c, list)] = true
	backup := filepath.Join(dir, "backup.db")
	if out := jiexu(t, "node", "backup", "--config", cfgFile, "--out", backup); !strings.Contains(out, "wrote "+backup) {
		t.Fatalf("node backup: %s", out)
	}
	if _, err := os.Stat(backup + ".partial"); !os.IsNotExist(err) {
		t.Errorf("node backup left %s.partial behind (%v)", backup, err)
	}
	// A backup never overwrites a file, and a failed one leaves nothing.
	if out := jiexuFails(t, dir, 1, "node", "backup", "--config", cfgFile, "--out", backup); !strings.Contains(out, "exists: choose a new file name") {
		t.Errorf("node backup over an existing file: %s", out)
	}
	if out := jiexuFails(t, dir, 1, "node", "backup", "--config", cfgFile, "--out", filepath.Join(dir, "no-such-dir", "b.db")); !strings.Contains(out, "--out") {
		t.Errorf("node backup into a missing folder: %s", out)
	}
	serials[suspendNext(t, c, list)] = true // after the backup
	// A second node on the same data_dir is told who holds it.
	out, code := runBounded(t, "node", "serve", "--config", cfgFile)
	if code == 0 || !regexp.MustCompile(`holds the lock .*pid \d+ \(.*jiexu node serve --config`).MatchString(out) {
		t.Errorf("second node serve on the same store: exit %d\n%s\nwant the holder named", code, out)
	}
	proc.kill(syscall.SIGTERM)
	pristine := filepath.Join(dir, "pristine.db")
	copyPath(t, dbFile, pristine)

	rng := rand.New(rand.NewPCG(11, 12))
	report, err := store.CheckFile(pristine)
	if err != nil {
		t.Fatal(err)
	}
	ps := int64(report.PageSize)
	tests := []struct {
		name   string
		damage func(path string)
		serve  []string // what 'node serve' must say
		verify string   // what 'node verify-backup' must say of the file ("" to skip)
	}{
		{"truncated", func(p string) { os.Truncate(p, report.Size/2+123) },
			[]string{"truncated", "jiexu node restore --config " + cfgFile}, "truncated"},
		{"zero length", func(p string) { os.Truncate(p, 0) },
			[]string{"is empty (0 bytes)", "jiexu node restore --config " + cfgFile}, "empty"},
		{"random bytes over pages", func(p string) {
			// Over the root bucket's page and the pages after it: the tree
			// itself, which bbolt follows blindly.
			junk := make([]byte, 3*ps)
			for i := range junk {
				junk[i] = byte(rng.IntN(256))
			}
			writeAt(t, p, ps*int64(report.Root), junk)
		}, []string{"is damaged", "jiexu node restore"}, "damaged"},
		{"damaged header", func(p string) { writeAt(t, p, 0, make([]byte, 2*ps)) },
			[]string{"header is damaged", "jiexu node restore"}, "header"},
		{"older copy put back", func(p string) { copyPath(t, older, p) },
			[]string{"older copy", "jiexu node restore --config " + cfgFile}, ""},
		{"backup put back", func(p string) { copyPath(t, backup, p) },
			[]string{"is a backup taken", "jiexu node restore --config " + cfgFile}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			copyPath(t, pristine, dbFile)
			tt.damage(dbFile)
			out, code := runBounded(t, "node", "serve", "--config", cfgFile)
			if code == 0 {
				t.Fatalf("node serve started on a %s store:\n%s", tt.name, out)
			}
			for _, want := range append(tt.serve, "what to do:") {
				if !strings.Contains(out, want) {
					t.Errorf("node serve said:\n%s\nwant it to mention %q", out, want)
				}
			}
			if strings.Contains(out, "is another node running") || strings.Contains(out, "goroutine ") {
				t.Errorf("node serve said:\n%s", out)
			}
			if tt.verify == "" {
				return
			}
			out, code = runBounded(t, "node", "verify-backup", dbFile)
			if code == 0 || !strings.Contains(out, "does NOT verify") || !strings.Contains(out, tt.verify) || strings.Contains(out, "goroutine ") {
				t.Errorf("node verify-backup of a %s file: exit %d\n%s\nwant a refusal mentioning %q", tt.name, code, out, tt.verify)
			}
		})
	}
	if t.Failed() {
		return
	}

	t.Run("read-only filesystem", func(t *testing.T) {
		ro := readOnlyMount(t)
		copyPath(t, pristine, filepath.Join(ro.dir, store.FileName))
		copyPath(t, filepath.Join(cfg.DataDir, store.SidecarName), filepath.Join(ro.dir, store.SidecarName))
		ro.seal(t)
		roCfg := cfg
		roCfg.DataDir = ro.dir
		roFile := filepath.Join(dir, "nodes", region, "node-ro.json")
		if err := node.WriteConfig(roFile, roCfg); err != nil {
			t.Fatal(err)
		}
		out, code := runBounded(t, "node", "serve", "--config", roFile)
		if code == 0 || !strings.Contains(out, "read-only") || !strings.Contains(out, "remount") || strings.Contains(out, "is another node running") {
			t.Errorf("node serve on a read-only filesystem: exit %d\n%s", code, out)
		}
	})

	// Restoring the backup through the command: a new epoch, the serials
	// moved past every one reserved, and the node serves again.
	copyPath(t, pristine, dbFile)
	out, code = runBounded(t, "node", "restore", "--config", cfgFile, "--from", backup)
	if code != 0 || !strings.Contains(out, "epoch:         1 → 2") || !strings.Contains(out, "cert/") || !strings.Contains(out, "previous store kept as") {
		t.Fatalf("node restore: exit %d\n%s", code, out)
	}
	proc.start()
	c = agencyOf(t, cfgFile)
	st, err := c.GetStatus(context.Background(), &jiexuv1.GetStatusRequest{})
	if err != nil || st.GetStoreEpoch() != 2 {
		t.Fatalf("status after the restore: epoch %d, %v; want 2", st.GetStoreEpoch(), err)
	}
	people = devnetPeople(t, context.Background(), c) // the backup's view of who is still enrolled
	list = list[:0]
	for _, e := range people {
		list = append(list, e)
	}
	next := suspendNext(t, c, list)
	if serials[next] {
		t.Errorf("serial %d issued again after the restore (issued before: %v)", next, serials)
	}
	for s := range serials {
		if next <= s {
			t.Errorf("serial %d after the restore is not past %d, issued before it", next, s)
		}
	}
	proc.kill(syscall.SIGTERM)
}

func writeAt(t *testing.T, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}

// roMount is a small tmpfs that can be made read-only.
type roMount struct{ dir string }

// readOnlyMount mounts a tmpfs (root only; skips otherwise).
func readOnlyMount(t *testing.T) *roMount {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a filesystem needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return &roMount{dir: dir}
}

func (m *roMount) seal(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,ro", m.dir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v %s", err, out)
	}
}
