package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// testCounters keeps counters in a bucket of their own, as the node keeps
// its own.
type testCounters struct{}

var bucketTestCounters = []byte("test.counters")

func (testCounters) Read(tx *bolt.Tx) (map[string]uint64, error) {
	out := map[string]uint64{}
	b := tx.Bucket(bucketTestCounters)
	if b == nil {
		return out, nil
	}
	return out, b.ForEach(func(k, v []byte) error { out[string(k)] = binary.BigEndian.Uint64(v); return nil })
}

func (testCounters) Raise(tx *bolt.Tx, name string, v uint64) error {
	b, err := tx.CreateBucketIfNotExists(bucketTestCounters)
	if err != nil {
		return err
	}
	if old := b.Get([]byte(name)); old != nil && binary.BigEndian.Uint64(old) >= v {
		return nil
	}
	return b.Put([]byte(name), binary.BigEndian.AppendUint64(nil, v))
}

// next allocates the next value of a counter the way the node does: the
// increment and the reservation in one transaction.
func next(t testing.TB, s *Store, name string) uint64 {
	t.Helper()
	var n uint64
	err := s.DB.Update(func(tx *bolt.Tx) error {
		have, err := testCounters{}.Read(tx)
		if err != nil {
			return err
		}
		n = have[name] + 1
		if err := Reserve(tx, name, n); err != nil {
			return err
		}
		return testCounters{}.Raise(tx, name, n)
	})
	if err != nil {
		t.Fatalf("next(%s): %v", name, err)
	}
	return n
}

func options(dir string) Options {
	return Options{Dir: dir, Region: "150100", ConfigFile: "node.json", Counters: testCounters{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func mustOpen(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(options(dir))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// filled returns a data_dir with a store that has used some counters and
// holds enough data to span many pages.
func filled(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	for range 5 {
		next(t, s, "cert/2026")
	}
	err := s.DB.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("data"))
		if err != nil {
			return err
		}
		for i := range 2000 {
			if err := b.Put(fmt.Appendf(nil, "key-%06d", i), []byte(strings.Repeat("v", 100+i%300))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckFileFindsDamage(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, r *FileReport)
		want   error
	}{
		{"sound", func(*testing.T, string, *FileReport) {}, nil},
		{"zero length", func(t *testing.T, p string, _ *FileReport) { truncate(t, p, 0) }, ErrEmpty},
		{"truncated mid-page", func(t *testing.T, p string, r *FileReport) { truncate(t, p, r.Size-1000) }, ErrTruncated},
		{"truncated at a page", func(t *testing.T, p string, r *FileReport) {
			truncate(t, p, int64(r.HighWater-3)*int64(r.PageSize))
		}, ErrTruncated},
		{"both meta pages zeroed", func(t *testing.T, p string, r *FileReport) { overwrite(t, p, 0, make([]byte, 2*r.PageSize)) }, ErrBadHeader},
		{"random bytes over the tree", func(t *testing.T, p string, r *FileReport) {
			rng := rand.New(rand.NewPCG(1, 2))
			junk := make([]byte, 4*r.PageSize)
			for i := range junk {
				junk[i] = byte(rng.IntN(256))
			}
			overwrite(t, p, int64(r.PageSize)*int64(r.HighWater/2), junk)
		}, ErrDamaged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filled(t)
			path := filepath.Join(dir, FileName)
			r, err := CheckFile(path)
			if err != nil {
				t.Fatalf("CheckFile(sound) = %v", err)
			}
			tt.damage(t, path, r)
			_, err = CheckFile(path)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CheckFile = %v, want %v", err, tt.want)
			}
		})
	}
}

// One damaged meta page is what bbolt survives (it uses the other); the
// store is refused only when the other is older than what the node had
// committed.
func TestOneDamagedMetaPage(t *testing.T) {
	dir := filled(t)
	path := filepath.Join(dir, FileName)
	r, err := CheckFile(path)
	if err != nil {
		t.Fatal(err)
	}
	newest := int64(r.TxID % 2) // bbolt writes transaction n's meta to page n%2
	overwrite(t, path, newest*int64(r.PageSize)+20, []byte{0xff, 0xff, 0xff, 0xff})
	r2, err := CheckFile(path)
	if err != nil || r2.DamagedMeta != int(newest) || r2.TxID != r.TxID-1 {
		t.Fatalf("CheckFile = %+v, %v; want meta page %d damaged and transaction %d", r2, err, newest, r.TxID-1)
	}
	if _, err := Open(options(dir)); !errors.Is(err, ErrBehind) || !strings.Contains(err.Error(), "damaged meta page") {
		t.Fatalf("Open = %v, want ErrBehind naming the damaged meta page", err)
	}
}

// Every file Open refuses gets a reason and the command to run.
func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    error
		advice  string
	}{
		{"empty file, sidecar present", func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, FileName), 0) }, ErrEmpty, "jiexu node restore --config node.json --from"},
		{"empty file, no sidecar", func(t *testing.T, dir string) {
			truncate(t, filepath.Join(dir, FileName), 0)
			os.Remove(filepath.Join(dir, SidecarName))
		}, ErrEmpty, "rm "},
		{"missing file, sidecar present", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, FileName)) }, ErrMissing, "jiexu node restore"},
		{"truncated", func(t *testing.T, dir string) {
			p := filepath.Join(dir, FileName)
			fi, _ := os.Stat(p)
			truncate(t, p, fi.Size()/2+7)
		}, ErrTruncated, "disk is not full"},
		{"damaged header", func(t *testing.T, dir string) { overwrite(t, filepath.Join(dir, FileName), 0, make([]byte, 16384)) }, ErrBadHeader, "jiexu node restore"},
		{"sidecar lost", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, SidecarName)) }, ErrNoSidecar, "--without-sidecar"},
		// The store is intact: the advice restores it from itself, not from
		// an older backup, which would lose what happened since.
		{"sidecar garbage", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, SidecarName), []byte("{not json"), 0o600)
		}, ErrSidecar, FileName + ".old --without-sidecar"},
		{"sidecar truncated", func(t *testing.T, dir string) {
			truncate(t, filepath.Join(dir, SidecarName), 40)
		}, ErrSidecar, FileName + ".old --without-sidecar"},
		{"another store's file", func(t *testing.T, dir string) {
			other := filled(t)
			if err := copyFile(filepath.Join(other, FileName), filepath.Join(dir, FileName)); err != nil {
				t.Fatal(err)
			}
		}, ErrNotThisStore, "jiexu node restore"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filled(t)
			tt.prepare(t, dir)
			_, err := Open(options(dir))
			var re *RefusedError
			if !errors.Is(err, tt.want) || !errors.As(err, &re) {
				t.Fatalf("Open = %v, want a refusal wrapping %v", err, tt.want)
			}
			if !strings.Contains(re.Do, tt.advice) {
				t.Errorf("advice %q does not mention %q", re.Do, tt.advice)
			}
		})
	}
}

// A copy of the store taken earlier and put back is refused; so is a
// backup, until it is restored.
func TestOlderCopyAndBackupAreRefused(t *testing.T) {
	dir := filled(t)
	path := filepath.Join(dir, FileName)
	old := filepath.Join(t.TempDir(), "old.db")
	if err := copyFile(path, old); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, dir)
	next(t, s, "cert/2026")
	if err := s.Probe(); err != nil { // the sidecar witnesses the newer transaction
		t.Fatal(err)
	}
	s.Close()
	if err := copyFile(old, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(options(dir)); !errors.Is(err, ErrBehind) {
		t.Fatalf("Open(older copy) = %v, want ErrBehind", err)
	}
	if _, err := MarkBackup(old, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(old, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(options(dir)); !errors.Is(err, ErrIsBackup) {
		t.Fatalf("Open(backup) = %v, want ErrIsBackup", err)
	}
}

// A second process is told who holds the store.
func TestLockedStoreNamesTheHolder(t *testing.T) {
	dir := filled(t)
	s := mustOpen(t, dir)
	defer s.Close()
	o := options(dir)
	_, err := Open(o)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	// The holder is this very process, which lockHolder skips: a test
	// cannot hold a lock from another process without starting one, which
	// the command-line tests do.
	if !strings.Contains(err.Error(), "another process holds the lock") {
		t.Errorf("refusal %q", err)
	}
}

// Counters are reserved in blocks: the sidecar is written when a value
// passes the mark, not at every value.
func TestReserveInBlocks(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	defer s.Close()
	sidecar := filepath.Join(dir, SidecarName)
	next(t, s, "case/20261125")
	if got := s.Reserved("case/20261125"); got != blockDefault {
		t.Fatalf("reserved after the first value = %d, want %d", got, blockDefault)
	}
	after, _ := os.ReadFile(sidecar) // its written_at changes at every write
	for i := 2; i <= blockDefault; i++ {
		next(t, s, "case/20261125")
	}
	if same, _ := os.ReadFile(sidecar); string(same) != string(after) {
		t.Errorf("the sidecar was rewritten within a block:\n%s\nthen\n%s", after, same)
	}
	next(t, s, "case/20261125")
	if got := s.Reserved("case/20261125"); got != 2*blockDefault {
		t.Errorf("reserved after %d values = %d, want %d", blockDefault+1, got, 2*blockDefault)
	}
}

// A restore advances the epoch and moves every counter past what the node
// reserved, whatever the backup's age; the old store is kept aside; the
// result opens.
func TestRestoreFencesAndJumps(t *testing.T) {
	dir := filled(t)
	s := mustOpen(t, dir)
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := s.DB.View(func(tx *bolt.Tx) error { return tx.CopyFile(backup, 0o600) }); err != nil {
		t.Fatal(err)
	}
	for range 7 {
		next(t, s, "cert/2026")
	}
	next(t, s, "case/20261125")
	mark := s.Reserved("cert/2026")
	s.Close()
	if _, err := MarkBackup(backup, time.Now()); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(context.Background(), RestoreOptions{Dir: dir, Region: "150100", Counters: testCounters{}, From: backup,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if r.NewEpoch != 2 || r.OldEpoch != 1 || r.MovedAside == "" || r.BackupTakenAt.IsZero() {
		t.Errorf("report = %+v", r)
	}
	jumped := map[string]bool{}
	for _, j := range r.Jumps {
		jumped[j.GetName()] = true
		if j.GetName() == "cert/2026" && (j.GetFrom() != 5 || j.GetTo() != mark) {
			t.Errorf("cert/2026 jumped %d → %d, want 5 → %d", j.GetFrom(), j.GetTo(), mark)
		}
	}
	if !jumped["cert/2026"] || !jumped["case/20261125"] {
		t.Errorf("jumps = %v, want cert/2026 and the case counter the backup never saw", r.Jumps)
	}
	var out strings.Builder
	r.Write(&out)
	if !strings.Contains(out.String(), "epoch:         1 → 2") || !strings.Contains(out.String(), "roll-forward") {
		t.Errorf("report:\n%s", out.String())
	}
	s = mustOpen(t, dir)
	defer s.Close()
	if s.Epoch() != 2 {
		t.Errorf("epoch after restore = %d, want 2", s.Epoch())
	}
	if n := next(t, s, "cert/2026"); n != mark+1 {
		t.Errorf("next serial after restore = %d, want %d (past every reserved one)", n, mark+1)
	}
	if _, err := os.Stat(r.MovedAside); err != nil {
		t.Errorf("the replaced store was not kept: %v", err)
	}
}

// A restore refuses while the node runs, and a backup of another node.
func TestRestoreRefuses(t *testing.T) {
	dir := filled(t)
	backup := filepath.Join(t.TempDir(), "b.db")
	if err := copyFile(filepath.Join(dir, FileName), backup); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, dir)
	_, err := Restore(context.Background(), RestoreOptions{Dir: dir, Region: "150100", Counters: testCounters{}, From: backup})
	if !errors.Is(err, ErrLocked) {
		t.Errorf("Restore while the node runs = %v, want ErrLocked", err)
	}
	s.Close()
	other := filled(t) // another store: another id
	_, err = Restore(context.Background(), RestoreOptions{Dir: other, Region: "150100", Counters: testCounters{}, From: backup})
	if !errors.Is(err, ErrNotThisStore) {
		t.Errorf("Restore of another store's backup = %v, want ErrNotThisStore", err)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, off int64, data []byte) {
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

// FuzzCheckFile feeds CheckFile damaged stores: it must report, never
// panic, and whatever it passes bbolt must open and read without crashing.
func FuzzCheckFile(f *testing.F) {
	dir := filled(f)
	sound, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), []byte{0})
	f.Add(uint32(4096*3+40), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(uint32(len(sound)/2), []byte("garbage over a page"))
	f.Fuzz(func(t *testing.T, off uint32, junk []byte) {
		data := append([]byte(nil), sound...)
		if int(off) < len(data) {
			copy(data[off:], junk)
		}
		path := filepath.Join(t.TempDir(), "f.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := CheckFile(path); err != nil {
			return
		}
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			return
		}
		defer db.Close()
		_ = db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error { return nil })
			})
		})
	})
}

// The write probe says why the store cannot be written.
func TestProbeReasons(t *testing.T) {
	dir := t.TempDir()
	o := options(dir)
	o.MinFree = 1 << 62 // more than any disk: "full"
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var pe *ProbeError
	if err := s.Probe(); !errors.As(err, &pe) || pe.Reason != "disk full" {
		t.Fatalf("Probe with too little free space = %v, want disk full", err)
	}
	s.opts.MinFree = 0
	if err := s.Probe(); err != nil {
		t.Fatalf("Probe = %v, want success", err)
	}
	s.DB.Close() // a store that is gone
	if err := s.Probe(); !errors.As(err, &pe) || pe.Reason != "store closed" {
		t.Fatalf("Probe of a closed store = %v, want store closed", err)
	}
}

// A node whose region code changed keeps its store: the sidecar vouches for
// it, and both now name the new code.
func TestRegionChangeKeepsTheStore(t *testing.T) {
	dir := filled(t)
	o := options(dir)
	o.Region = "150702"
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open under the new code: %v", err)
	}
	if got := s.FormerRegion(); got != "150100" {
		t.Errorf("FormerRegion() = %q, want 150100", got)
	}
	if err := s.AdoptRegion(); err != nil {
		t.Fatal(err)
	}
	if got := s.Identity().GetRegion(); got != "150702" || s.FormerRegion() != "" {
		t.Errorf("after AdoptRegion: identity region %s, former %q; want 150702 and none", got, s.FormerRegion())
	}
	s.Close()
	sc, err := readSidecar(filepath.Join(dir, SidecarName))
	if err != nil || sc.GetRegion() != "150702" {
		t.Errorf("sidecar = %v, %v; want region 150702", sc, err)
	}
	if s, err = Open(o); err != nil || s.FormerRegion() != "" {
		t.Fatalf("Open again: %v, former region %q", err, s.FormerRegion())
	}
	s.Close()
}
