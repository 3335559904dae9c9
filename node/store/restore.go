package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/types/known/timestamppb"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// OpenReadOnly checks a store file (a backup, say) and opens it read-only,
// so that nothing in it can crash the caller.
func OpenReadOnly(path string) (*bolt.DB, *FileReport, error) {
	report, err := CheckFile(path)
	if err != nil {
		return nil, report, err
	}
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return nil, report, err
	}
	return db, report, nil
}

// ReadIdentity returns a store's identity, nil for a store without one.
func ReadIdentity(tx *bolt.Tx) (*jiexuv1.StoreIdentity, error) { return readIdentity(tx) }

// MarkBackup marks a freshly written backup file as a backup (taken at at,
// from a store whose read saw transaction txid), so that a node refuses to
// serve it until 'jiexu node restore' has made it a store again.
func MarkBackup(path string, at time.Time) (*jiexuv1.StoreIdentity, error) {
	if _, err := CheckFile(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	var id *jiexuv1.StoreIdentity
	err = db.Update(func(tx *bolt.Tx) error {
		var err error
		if id, err = readIdentity(tx); err != nil {
			return err
		}
		if id == nil {
			id = &jiexuv1.StoreIdentity{}
		}
		id.Backup = &jiexuv1.BackupMark{TakenAt: timestamppb.New(at), Txid: uint64(tx.ID()) - 1, Epoch: id.GetEpoch()}
		return writeIdentity(tx, id)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return id, err
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Dir, Region, ConfigFile and Counters are the node's, as for Open.
	Dir, Region, ConfigFile string
	Counters                Counters
	// From is the backup file.
	From string
	// WithoutSidecar restores although the sidecar is missing or unreadable;
	// the counters then continue from the restored store's and the current
	// store's own values, which may repeat ones the peers hold.
	WithoutSidecar bool
	// RollForward, when set, brings the restored store forward from what
	// its peers hold (cases, serials, remittances), before the store is put
	// in place; it says what it did in the report's RollForward. The
	// counters it raises are reserved in the sidecar with the others. Nil:
	// the report says what an operator must check instead.
	RollForward func(ctx context.Context, db *bolt.DB, r *RestoreReport) error
	Logger      *slog.Logger
	Now         func() time.Time
}

// RestoreReport is what a restore did.
type RestoreReport struct {
	From          string
	BackupTakenAt time.Time
	BackupTxID    uint64
	StoreID       string
	Region        string
	// OldEpoch is the highest epoch seen before (sidecar, backup, current
	// store); NewEpoch the restored store's.
	OldEpoch, NewEpoch uint32
	// Jumps are the counters moved past every value reserved before.
	Jumps []*jiexuv1.CounterJump
	// MovedAside is where the store that was in place went ("" if none).
	MovedAside string
	// RolledForward says whether RollForward ran.
	RolledForward bool
	// RollForward is what it did: what it recovered, what an operator must
	// decide, which peers it could not ask.
	RollForward RollForwardReport
	// Warnings are things an operator must look at.
	Warnings []string
}

// RollForwardReport is what rolling a restored store forward did.
type RollForwardReport struct {
	// Asked are the peers that answered; Unreachable those that did not,
	// each with what to run later.
	Asked, Unreachable []string
	// Recovered lists what the store was brought forward with; Decide what
	// an operator must decide (the roll-forward did not change it).
	Recovered, Decide []string
}

// write prints the roll-forward's part of the report.
func (f *RollForwardReport) write(w io.Writer) {
	fmt.Fprintf(w, "  roll-forward:  asked %d peer(s)", len(f.Asked))
	if len(f.Unreachable) > 0 {
		fmt.Fprintf(w, "; %d did not answer", len(f.Unreachable))
	}
	fmt.Fprintf(w, "; %d recovered, %d to decide\n", len(f.Recovered), len(f.Decide))
	for _, s := range f.Recovered {
		fmt.Fprintf(w, "    recovered: %s\n", s)
	}
	for _, s := range f.Decide {
		fmt.Fprintf(w, "    DECIDE:    %s\n", s)
	}
	for _, s := range f.Unreachable {
		fmt.Fprintf(w, "    NOT ASKED: %s\n", s)
	}
}

// Write prints the report for an operator.
func (r *RestoreReport) Write(w io.Writer) {
	fmt.Fprintf(w, "restored %s into store %s of region %s\n", r.From, r.StoreID, r.Region)
	if !r.BackupTakenAt.IsZero() {
		fmt.Fprintf(w, "  backup taken:  %s (transaction %d)\n", r.BackupTakenAt.Format(time.RFC3339), r.BackupTxID)
	}
	fmt.Fprintf(w, "  epoch:         %d → %d (what the node numbers from now on cannot equal what it numbered before)\n", r.OldEpoch, r.NewEpoch)
	if len(r.Jumps) == 0 {
		fmt.Fprintln(w, "  counters:      none needed to move")
	} else {
		fmt.Fprintln(w, "  counters moved past every value reserved before the restore:")
		for _, j := range r.Jumps {
			fmt.Fprintf(w, "    %-22s %d → %d\n", j.GetName(), j.GetFrom(), j.GetTo())
		}
	}
	if r.MovedAside != "" {
		fmt.Fprintf(w, "  previous store kept as %s\n", r.MovedAside)
	}
	if r.RolledForward {
		r.RollForward.write(w)
	} else {
		fmt.Fprintln(w, "  roll-forward:  not done. Cases, certificates and remittances made after the backup")
		fmt.Fprintln(w, "                 are missing here while the peers hold them: check 'jiexu transfer list' and each")
		fmt.Fprintln(w, "                 peer's view before serving, and expect peers' messages about unknown cases to fail")
		fmt.Fprintln(w, "                 with NotFound (they are retried, then dead-lettered at the peer for a redrive).")
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  WARNING: %s\n", warn)
	}
}

// Restore puts a backup in place of a node's store, safely: the node must
// be stopped; the backup is checked; its epoch is advanced past every epoch
// the node had, and every counter moved past the highest value the node
// reserved (the sidecar's marks, and the current store's counters), so that
// serials, case ids and outbox sequences never repeat whatever the backup's
// age; the store in place is kept aside; the sidecar is written before the
// new store is renamed into place, so a crash leaves a state Open refuses
// and a second Restore repairs.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreReport, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cfg := Options{Dir: o.Dir, Region: o.Region, ConfigFile: o.ConfigFile}
	s := &Store{opts: cfg, path: filepath.Join(o.Dir, FileName), sidecarPath: filepath.Join(o.Dir, SidecarName)}
	r := &RestoreReport{From: o.From, Region: o.Region}
	if _, err := CheckFile(o.From); err != nil {
		return nil, fmt.Errorf("the backup %s cannot be restored: %w", o.From, err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, s.ioRefusal(err, "create data_dir "+o.Dir)
	}

	sc, scErr := readSidecar(s.sidecarPath)
	switch {
	case scErr != nil && !o.WithoutSidecar:
		return nil, refuse(fmt.Errorf("%w: %v", ErrSidecar, scErr), fmt.Sprintf("the sidecar %s cannot be read: %v", s.sidecarPath, scErr),
			"put back the sidecar from a copy of data_dir, or add --without-sidecar to restore without its marks")
	case sc == nil && !o.WithoutSidecar:
		return nil, refuse(ErrNoSidecar, fmt.Sprintf("data_dir has no sidecar %s: without it, this restore cannot know the highest serials and case ids the node used", s.sidecarPath),
			"put back the sidecar from a copy of data_dir, or add --without-sidecar to restore anyway (serials and case ids then continue from the restored and the current store's own counters)")
	case sc == nil:
		r.Warnings = append(r.Warnings, "restored without a sidecar: serials and case ids continue from the stores' own counters and may repeat ones the peers hold; check them")
	}

	// The current store, if it is readable, may be ahead of the sidecar.
	marks := map[string]uint64{}
	var epoch uint32
	if sc != nil {
		maps.Copy(marks, sc.GetReserved())
		epoch = sc.GetEpoch()
	}
	cur, err := readCounters(s.path, o.Counters)
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, lockedRefusal(s.path)
	case err != nil:
		r.Warnings = append(r.Warnings, fmt.Sprintf("the store in place could not be read (%v); only the sidecar's marks were used", err))
	case cur != nil:
		for name, v := range cur.counters {
			marks[name] = max(marks[name], v)
		}
		epoch = max(epoch, cur.identity.GetEpoch())
	}
	// The node must be stopped: hold the store's lock from here on.
	unlock, err := lockStore(s.path)
	if err != nil {
		return nil, err
	}
	defer unlock()

	tmp := s.path + ".restoring"
	if err := copyFile(o.From, tmp); err != nil {
		return nil, fmt.Errorf("copy %s: %w", o.From, err)
	}
	defer os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var id *jiexuv1.StoreIdentity
	err = db.Update(func(tx *bolt.Tx) error {
		var err error
		if id, err = readIdentity(tx); err != nil {
			return err
		}
		if id == nil {
			id = &jiexuv1.StoreIdentity{Region: o.Region, CreatedAt: timestamppb.New(o.Now())}
			r.Warnings = append(r.Warnings, "the backup has no identity (made by an earlier jiexu)")
		}
		switch {
		case id.GetRegion() != "" && id.GetRegion() != o.Region:
			return refuse(ErrNotThisStore, fmt.Sprintf("the backup %s is region %s's store, this node is %s", o.From, id.GetRegion(), o.Region),
				"restore a backup of this node")
		case sc != nil && id.GetStoreId() != "" && id.GetStoreId() != sc.GetStoreId():
			return refuse(ErrNotThisStore, fmt.Sprintf("the backup %s is store %s, this node's store is %s", o.From, id.GetStoreId(), sc.GetStoreId()),
				"restore a backup of this node's store, or add --without-sidecar if this node's store really was replaced by that one")
		}
		if b := id.GetBackup(); b != nil {
			r.BackupTakenAt, r.BackupTxID = b.GetTakenAt().AsTime(), b.GetTxid()
		}
		if id.GetStoreId() == "" {
			id.StoreId = sc.GetStoreId()
			if id.StoreId == "" {
				id.StoreId = newStoreID()
			}
		}
		epoch = max(epoch, id.GetEpoch())
		r.OldEpoch, r.NewEpoch = epoch, epoch+1
		have := map[string]uint64{}
		if o.Counters != nil {
			if have, err = o.Counters.Read(tx); err != nil {
				return err
			}
		}
		for _, name := range slices.Sorted(maps.Keys(marks)) {
			if to := marks[name]; to > have[name] {
				if err := o.Counters.Raise(tx, name, to); err != nil {
					return fmt.Errorf("raise %s to %d: %w", name, to, err)
				}
				r.Jumps = append(r.Jumps, &jiexuv1.CounterJump{Name: name, From: have[name], To: to})
			}
			marks[name] = max(marks[name], have[name])
		}
		for name, v := range have {
			marks[name] = max(marks[name], v)
		}
		id.Region, id.Epoch, id.Backup = o.Region, r.NewEpoch, nil
		id.Restores = append(id.Restores, &jiexuv1.RestoreRecord{Epoch: r.NewEpoch, RestoredAt: timestamppb.New(o.Now()),
			From: filepath.Base(o.From), BackupTakenAt: timestampOrNil(r.BackupTakenAt), Jumps: r.Jumps})
		return writeIdentity(tx, id)
	})
	if err != nil {
		return nil, err
	}
	r.StoreID = id.GetStoreId()
	if o.RollForward != nil {
		if err := o.RollForward(ctx, db, r); err != nil {
			return nil, fmt.Errorf("roll forward from the peers: %w", err)
		}
		r.RolledForward = true
		if err := raiseMarks(db, o.Counters, marks); err != nil {
			return nil, err
		}
	}
	var txid uint64
	if err := db.View(func(tx *bolt.Tx) error { txid = uint64(tx.ID()); return nil }); err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	// The sidecar first: a crash before the rename leaves the old store
	// behind the sidecar's epoch, which Open refuses and a new Restore
	// repairs.
	next := &jiexuv1.StoreSidecar{StoreId: id.GetStoreId(), Region: o.Region, Epoch: r.NewEpoch, Reserved: marks, Txid: txid, WrittenAt: timestamppb.New(o.Now())}
	if err := writeSidecar(s.sidecarPath, next); err != nil {
		return nil, s.ioRefusal(err, "write the sidecar "+s.sidecarPath)
	}
	if _, err := os.Stat(s.path); err == nil {
		r.MovedAside = fmt.Sprintf("%s.replaced-%s", s.path, o.Now().UTC().Format("20060102T150405"))
		if err := os.Rename(s.path, r.MovedAside); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return nil, err
	}
	if err := syncDir(o.Dir); err != nil {
		return nil, err
	}
	o.Logger.Info("store restored", "from", o.From, "store_id", r.StoreID, "epoch", r.NewEpoch, "jumps", len(r.Jumps))
	return r, nil
}

// raiseMarks raises the marks to the restored store's counters, which a
// roll-forward may have moved.
func raiseMarks(db *bolt.DB, counters Counters, marks map[string]uint64) error {
	if counters == nil {
		return nil
	}
	return db.View(func(tx *bolt.Tx) error {
		have, err := counters.Read(tx)
		for name, v := range have {
			marks[name] = max(marks[name], v)
		}
		return err
	})
}

func timestampOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func newStoreID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// current is what readCounters found in the store in place.
type current struct {
	identity *jiexuv1.StoreIdentity
	counters map[string]uint64
}

// readCounters reads the counters and identity of the store in place, if
// there is one that is sound; nil, nil when there is none or it is empty.
func readCounters(path string, counters Counters) (*current, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return nil, nil
	}
	db, _, err := OpenReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	cur := &current{}
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		if cur.identity, err = readIdentity(tx); err != nil {
			return err
		}
		if counters != nil {
			cur.counters, err = counters.Read(tx)
		}
		return err
	})
	return cur, err
}

// lockStore takes the store file's lock (as bbolt does) so that no node
// serves from it during a restore; it says who holds it when it cannot.
func lockStore(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, lockedRefusal(path)
	}
	return func() { f.Close() }, nil
}

func lockedRefusal(path string) error {
	holder := lockHolder(path)
	if holder == "" {
		holder = "a process this command cannot see"
	}
	return refuse(ErrLocked, fmt.Sprintf("the store %s is in use by %s", path, holder), "stop the node first (systemctl stop jiexu-node, or SIGTERM), then restore")
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
