package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/gateway"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// FileName is the store's file name inside data_dir; SidecarName the
// sidecar's.
const (
	FileName    = "jiexu.db"
	SidecarName = "jiexu.id"
)

// The store's own buckets, beside the node's and the gateway's.
var (
	// bucketIdentity: "identity" → StoreIdentity.
	bucketIdentity = []byte("store.identity")
	// bucketProbe: "probe" → the time of the last write probe (8 bytes, unix nanoseconds).
	bucketProbe = []byte("store.probe")

	keyIdentity = []byte("identity")
	keyProbe    = []byte("probe")
)

// Counters gives the store access to the counters that number what a node
// makes (certificate serials, case ids, outbox sequences), so that Open can
// check them against the sidecar and Restore can move them past every value
// reserved before.
type Counters interface {
	// Read returns every counter's current value.
	Read(tx *bolt.Tx) (map[string]uint64, error)
	// Raise makes counter name at least v; it never lowers it.
	Raise(tx *bolt.Tx, name string, v uint64) error
}

// Options say where the store is and whose it is.
type Options struct {
	// Dir is data_dir.
	Dir string
	// Region is the node's pooling region.
	Region string
	// ConfigFile is the node's config file, named in the commands the
	// errors suggest ("" writes CONFIG).
	ConfigFile string
	// Counters are the node's counters.
	Counters Counters
	// MinFree is the free space below which Probe reports the disk full.
	MinFree int64
	Logger  *slog.Logger
	Now     func() time.Time
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// config is how the suggested commands name the node's config file.
func (o *Options) config() string {
	if o.ConfigFile == "" {
		return "CONFIG"
	}
	return o.ConfigFile
}

// Store is a node's bbolt store with its identity and its sidecar.
type Store struct {
	// DB is the open store.
	DB *bolt.DB

	opts        Options
	path        string
	sidecarPath string

	mu       sync.Mutex // guards sidecar and identity; held while the sidecar is written
	sidecar  *jiexuv1.StoreSidecar
	identity *jiexuv1.StoreIdentity

	witnessed time.Time // guarded by mu: when Probe last recorded the transaction

	formerRegion string // the region the store was made under, when it differs from Options.Region
}

// FormerRegion returns the region the store's identity names when it is not
// the node's (a node whose code changed, or data_dir pointing at another
// node's folder), "" otherwise. AdoptRegion settles it.
func (s *Store) FormerRegion() string { return s.formerRegion }

// AdoptRegion records that the store is now the store of the node's region
// (Options.Region): a node whose region code changed keeps its store.
func (s *Store) AdoptRegion() error {
	if s.formerRegion == "" {
		return nil
	}
	s.mu.Lock()
	id := proto.Clone(s.identity).(*jiexuv1.StoreIdentity)
	s.mu.Unlock()
	id.Region = s.opts.Region
	if err := s.DB.Update(func(tx *bolt.Tx) error { return writeIdentity(tx, id) }); err != nil {
		return err
	}
	s.mu.Lock()
	s.identity = id
	next := proto.Clone(s.sidecar).(*jiexuv1.StoreSidecar)
	next.Region = s.opts.Region
	err := writeSidecar(s.sidecarPath, next)
	if err == nil {
		s.sidecar = next
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.opts.Logger.Warn("the node's region changed; its store keeps its identity and counters under the new code",
		"store_id", id.GetStoreId(), "from", s.formerRegion, "to", s.opts.Region)
	s.formerRegion = ""
	return nil
}

// witnessEvery bounds how often Probe records the store's transaction in
// the sidecar, however often it is called: a copy of the store younger than
// this is not recognised as older (a backup always is, by its mark).
const witnessEvery = time.Second

// open stores by DB, for Reserve.
var open sync.Map // *bolt.DB → *Store

// Path returns the store file's path.
func (s *Store) Path() string { return s.path }

// Identity returns a copy of the store's identity.
func (s *Store) Identity() *jiexuv1.StoreIdentity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.identity).(*jiexuv1.StoreIdentity)
}

// Epoch is the store's incarnation: 1 when created, advanced by every
// restore. What the node numbers after a restore can carry it, so that it
// never equals what it numbered before.
func (s *Store) Epoch() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.identity.GetEpoch()
}

// Close records the last committed transaction in the sidecar and closes
// the store.
func (s *Store) Close() error {
	if err := s.witness(); err != nil {
		s.opts.Logger.Warn("could not record the last transaction in the sidecar", "err", err)
	}
	open.Delete(s.DB)
	return s.DB.Close()
}

// Open checks and opens the store in opts.Dir for a node to serve from. It
// refuses, with what to do, a store it cannot trust: a damaged, truncated
// or empty file, a file another process holds, a read-only filesystem, a
// store missing while its sidecar says the node had one, a backup, another
// node's store, or a store older than what this node had committed (a
// restored copy: 'jiexu node restore' is the way to put one back). A new
// data_dir gets a new store with a new identity and sidecar; a store from a
// version before identities is adopted.
func Open(opts Options) (*Store, error) {
	opts.defaults()
	s := &Store{opts: opts, path: filepath.Join(opts.Dir, FileName), sidecarPath: filepath.Join(opts.Dir, SidecarName)}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, s.ioRefusal(err, "create data_dir "+opts.Dir)
	}
	if err := syscall.Access(opts.Dir, 2 /* W_OK */); err != nil {
		return nil, s.ioRefusal(err, "write to data_dir "+opts.Dir)
	}
	sc, err := readSidecar(s.sidecarPath)
	if err != nil {
		// The store itself may be intact: then it is restored from itself,
		// never from an older backup, which would lose what happened since.
		which, cmd := "from the newest backup", s.restoreCommand("BACKUP_FILE")
		if fi, serr := os.Stat(s.path); serr == nil && fi.Size() > 0 {
			which = "from itself"
			cmd = fmt.Sprintf("mv %s %s.old && %s", s.path, s.path, s.restoreCommand(s.path+".old"))
		}
		return nil, refuse(fmt.Errorf("%w: %v", ErrSidecar, err),
			fmt.Sprintf("the sidecar %s, which records the store's identity and the highest serials and case ids the node reserved, cannot be read: %v", s.sidecarPath, err),
			fmt.Sprintf("put back the sidecar from a copy of data_dir if you have one; otherwise restore the store %s with\n%s --without-sidecar\n(serials and case ids then continue from the restored store's own counters: check them against the peers)",
				which, cmd))
	}
	s.sidecar = sc
	fi, statErr := os.Stat(s.path)
	fresh := errors.Is(statErr, os.ErrNotExist)
	switch {
	case statErr != nil && !fresh:
		return nil, s.ioRefusal(statErr, "read "+s.path)
	case fresh && sc != nil:
		return nil, refuse(ErrMissing,
			fmt.Sprintf("the store %s is missing, but its sidecar %s says this node had store %s (epoch %d)", s.path, s.sidecarPath, sc.GetStoreId(), sc.GetEpoch()),
			"restore the newest backup (serials and case ids continue past every value the node reserved):\n"+s.restoreCommand("BACKUP_FILE"))
	case !fresh && fi.Size() == 0:
		do := "restore the newest backup:\n" + s.restoreCommand("BACKUP_FILE")
		if sc == nil {
			do += "\nor, if this data_dir never held a node's store, remove the empty file to start a new one: rm " + s.path
		}
		return nil, refuse(ErrEmpty, fmt.Sprintf("the store %s is empty (0 bytes): a new store here would start serials and case ids again at 1", s.path), do)
	}
	var report *FileReport
	if !fresh {
		if report, err = CheckFile(s.path); err != nil {
			return nil, s.damageRefusal(err)
		}
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			holder := lockHolder(s.path)
			if holder == "" {
				holder = "a process this node cannot see"
			}
			return nil, refuse(ErrLocked, fmt.Sprintf("another process holds the lock on the store %s: %s", s.path, holder),
				"stop that process first (a node already serving from this data_dir, or a 'jiexu node restore' at work); two processes must never write one store")
		}
		return nil, s.ioRefusal(err, "open "+s.path)
	}
	s.DB = db
	if err := s.settle(report); err != nil {
		db.Close()
		return nil, err
	}
	open.Store(db, s)
	return s, nil
}

// settle reads the store's identity, compares it with the sidecar and
// brings the two together, creating both for a new store.
func (s *Store) settle(report *FileReport) error {
	var id *jiexuv1.StoreIdentity
	var counters map[string]uint64
	var empty bool
	err := s.DB.View(func(tx *bolt.Tx) error {
		empty = tx.Bucket(bucketIdentity) == nil && countBuckets(tx) == 0
		var err error
		if id, err = readIdentity(tx); err != nil {
			return err
		}
		if s.opts.Counters != nil && !empty {
			counters, err = s.opts.Counters.Read(tx)
		}
		return err
	})
	if err != nil {
		return s.damageRefusal(fmt.Errorf("%w: %v", ErrDamaged, err))
	}
	sc, o := s.sidecar, &s.opts
	switch {
	case id == nil && sc == nil:
		// A new store, or one from before identities: adopt it.
		if !empty {
			o.Logger.Warn("store has no identity (written by an earlier jiexu): adopting it as this node's store, epoch 1", "path", s.path)
		}
		return s.create(counters)
	case id == nil && empty && sc.GetTxid() == 0 && sc.GetRegion() == o.Region:
		// The node stopped while creating this store, between the sidecar
		// and the identity: finish the job.
		return s.create(counters)
	case id == nil:
		return refuse(ErrNotThisStore,
			fmt.Sprintf("the store %s has no identity, but the sidecar says this node's store is %s (epoch %d): it is not the file this node created", s.path, sc.GetStoreId(), sc.GetEpoch()),
			"restore this node's newest backup:\n"+s.restoreCommand("BACKUP_FILE"))
	case id.GetBackup() != nil:
		return refuse(ErrIsBackup,
			fmt.Sprintf("the store %s is a backup taken %s (epoch %d): serving it as it is would hand out serials and case ids the node used after the backup",
				s.path, id.GetBackup().GetTakenAt().AsTime().Format(time.RFC3339), id.GetBackup().GetEpoch()),
			"move it out of data_dir and restore it, which moves every counter past what the node reserved:\n"+
				fmt.Sprintf("mv %s %s.backup && %s", s.path, s.path, s.restoreCommand(s.path+".backup")))
	case id.GetRegion() != o.Region && (sc == nil || sc.GetStoreId() != id.GetStoreId()):
		// The same store under a new code (its sidecar agrees) is a node
		// whose region changed; without that, it is another node's.
		return refuse(ErrNotThisStore, fmt.Sprintf("the store %s belongs to region %s, this node is %s", s.path, id.GetRegion(), o.Region),
			"check data_dir in the config: each node has a data_dir of its own")
	case sc == nil:
		return refuse(ErrNoSidecar,
			fmt.Sprintf("the store %s (store %s, epoch %d) has no sidecar %s beside it, which records the highest serials and case ids the node reserved", s.path, id.GetStoreId(), id.GetEpoch(), s.sidecarPath),
			"if you moved the store from another folder or machine, move its jiexu.id with it; if the sidecar is lost, restore the store from itself:\n"+
				fmt.Sprintf("mv %s %s.old && %s --without-sidecar", s.path, s.path, s.restoreCommand(s.path+".old")))
	case id.GetStoreId() != sc.GetStoreId():
		return refuse(ErrNotThisStore,
			fmt.Sprintf("the store %s is store %s, but the sidecar says this node's store is %s", s.path, id.GetStoreId(), sc.GetStoreId()),
			"put this node's own store back, or restore its newest backup:\n"+s.restoreCommand("BACKUP_FILE"))
	case id.GetEpoch() < sc.GetEpoch():
		return refuse(ErrBehind,
			fmt.Sprintf("the store %s is from epoch %d, before the node was restored to epoch %d: it is an older copy", s.path, id.GetEpoch(), sc.GetEpoch()),
			"restore the newest backup instead:\n"+s.restoreCommand("BACKUP_FILE"))
	case id.GetEpoch() > sc.GetEpoch():
		return refuse(ErrNotThisStore,
			fmt.Sprintf("the store %s is from epoch %d, but the sidecar %s is from epoch %d: the sidecar is an older copy", s.path, id.GetEpoch(), s.sidecarPath, sc.GetEpoch()),
			"put back the sidecar that came with this store; if it is lost:\n"+
				fmt.Sprintf("mv %s %s.old && %s --without-sidecar", s.path, s.path, s.restoreCommand(s.path+".old")))
	case report != nil && report.TxID < sc.GetTxid():
		what := fmt.Sprintf("the store %s ends at transaction %d, but this node had committed transaction %d by %s: it is an older copy of the store (a backup or a file copied back)",
			s.path, report.TxID, sc.GetTxid(), sc.GetWrittenAt().AsTime().Format(time.RFC3339))
		if report.DamagedMeta >= 0 {
			what = fmt.Sprintf("the store %s has a damaged meta page %d (%s), and the other one is at transaction %d, older than the %d this node had committed",
				s.path, report.DamagedMeta, report.MetaProblem, report.TxID, sc.GetTxid())
		}
		return refuse(ErrBehind, what, "restore it (or the newest backup), which moves every counter past what the node reserved:\n"+
			fmt.Sprintf("mv %s %s.old && %s", s.path, s.path, s.restoreCommand(s.path+".old")))
	}
	if id.GetRegion() != o.Region {
		// The same store under a new code (its sidecar agrees): the caller
		// decides, with the registry, whether the node's region changed
		// (AdoptRegion) or data_dir is another node's.
		s.formerRegion = id.GetRegion()
	}
	if report != nil && report.DamagedMeta >= 0 {
		o.Logger.Warn("one of the store's meta pages is damaged; the other holds the last transaction this node recorded, so the store is used",
			"path", s.path, "meta_page", report.DamagedMeta, "problem", report.MetaProblem)
	}
	s.identity = id
	// A store ahead of its sidecar is safe (an older sidecar put back):
	// raise the marks to what the store has used.
	raised := proto.Clone(s.sidecar).(*jiexuv1.StoreSidecar)
	if raised.Reserved == nil {
		raised.Reserved = map[string]uint64{}
	}
	var ahead []string
	for name, v := range counters {
		if v > raised.GetReserved()[name] {
			ahead = append(ahead, fmt.Sprintf("%s %d>%d", name, v, raised.GetReserved()[name]))
			raised.Reserved[name] = v
		}
	}
	if len(ahead) > 0 {
		o.Logger.Warn("the store has used counters beyond its sidecar's marks; raising the marks", "counters", strings.Join(ahead, ", "))
	}
	s.sidecar = raised
	return s.witness()
}

// create gives a new (or adopted) store its identity and sidecar. The
// sidecar is written first, with no transaction witnessed, so that a crash
// in between leaves a state settle finishes.
func (s *Store) create(counters map[string]uint64) error {
	now := s.opts.Now()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	id := &jiexuv1.StoreIdentity{StoreId: hex.EncodeToString(b[:]), Region: s.opts.Region, Epoch: 1, CreatedAt: timestamppb.New(now)}
	if s.sidecar != nil { // finishing an interrupted creation
		id.StoreId = s.sidecar.GetStoreId()
	}
	sc := &jiexuv1.StoreSidecar{StoreId: id.GetStoreId(), Region: id.GetRegion(), Epoch: 1, Reserved: map[string]uint64{}, WrittenAt: timestamppb.New(now)}
	for name, v := range counters {
		sc.Reserved[name] = v
	}
	if err := writeSidecar(s.sidecarPath, sc); err != nil {
		return s.ioRefusal(err, "write the sidecar "+s.sidecarPath)
	}
	if err := s.DB.Update(func(tx *bolt.Tx) error { return writeIdentity(tx, id) }); err != nil {
		return s.ioRefusal(err, "write the store's identity")
	}
	s.identity, s.sidecar = id, sc
	s.opts.Logger.Info("store created", "path", s.path, "store_id", id.GetStoreId(), "epoch", id.GetEpoch())
	return s.witness()
}

func countBuckets(tx *bolt.Tx) int {
	n := 0
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error { n++; return nil })
	return n
}

func readIdentity(tx *bolt.Tx) (*jiexuv1.StoreIdentity, error) {
	b := tx.Bucket(bucketIdentity)
	if b == nil {
		return nil, nil
	}
	v := b.Get(keyIdentity)
	if v == nil {
		return nil, nil
	}
	id := &jiexuv1.StoreIdentity{}
	if err := proto.Unmarshal(v, id); err != nil {
		return nil, fmt.Errorf("store identity: %w", err)
	}
	return id, nil
}

func writeIdentity(tx *bolt.Tx, id *jiexuv1.StoreIdentity) error {
	b, err := tx.CreateBucketIfNotExists(bucketIdentity)
	if err != nil {
		return err
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(id)
	if err != nil {
		return err
	}
	return b.Put(keyIdentity, data)
}

// witness records in the sidecar a transaction the store has committed:
// from then on, a store whose last transaction is older is a copy.
func (s *Store) witness() error {
	var txid uint64
	if err := s.DB.View(func(tx *bolt.Tx) error { txid = uint64(tx.ID()); return nil }); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if txid <= s.sidecar.GetTxid() {
		return nil
	}
	next := proto.Clone(s.sidecar).(*jiexuv1.StoreSidecar)
	next.Txid, next.WrittenAt = txid, timestamppb.New(s.opts.Now())
	if err := writeSidecar(s.sidecarPath, next); err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrSidecar, s.sidecarPath, err)
	}
	s.sidecar = next
	return nil
}

// Block sizes: how many values of a counter are reserved at once. Larger
// blocks write the sidecar less often; a restore skips at most a block.
const (
	blockDefault = 100
	blockOutbox  = 1000
)

func blockFor(name string) uint64 {
	if name == gateway.OutboxCounter {
		return blockOutbox
	}
	return blockDefault
}

// Reserve makes sure the sidecar covers value of counter name before the
// transaction that uses it commits: when value passes the reserved mark, a
// new block is reserved and the sidecar written (and synced) at once. The
// transaction is tx, which the caller commits afterwards; an error aborts
// it. A transaction that rolls back leaves the mark ahead, which is safe.
func (s *Store) Reserve(_ *bolt.Tx, name string, value uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value <= s.sidecar.GetReserved()[name] {
		return nil
	}
	next := proto.Clone(s.sidecar).(*jiexuv1.StoreSidecar)
	if next.Reserved == nil {
		next.Reserved = map[string]uint64{}
	}
	next.Reserved[name] = value - 1 + blockFor(name)
	next.WrittenAt = timestamppb.New(s.opts.Now())
	if err := writeSidecar(s.sidecarPath, next); err != nil {
		return fmt.Errorf("%w: reserve %s up to %d: %w", ErrSidecar, name, next.Reserved[name], err)
	}
	s.sidecar = next
	return nil
}

// Reserve is Store.Reserve for the store tx belongs to; a store not opened
// with Open (a test's, a backup being inspected) reserves nothing.
func Reserve(tx *bolt.Tx, name string, value uint64) error {
	if s, ok := open.Load(tx.DB()); ok {
		return s.(*Store).Reserve(tx, name, value)
	}
	return nil
}

// Reserved returns the sidecar's mark for counter name.
func (s *Store) Reserved(name string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sidecar.GetReserved()[name]
}

// ProbeError is a failed write probe: a short reason for health, and the
// detail for the operator's log.
type ProbeError struct {
	Reason string
	Err    error
}

func (e *ProbeError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *ProbeError) Unwrap() error { return e.Err }

// Probe checks that the store can be written now: enough free space on its
// filesystem, and a tiny write in a bucket of its own committed (and
// synced). It then records the committed transaction in the sidecar. A
// failure says why: disk full, read-only, I/O error, a file-size limit, no
// permission.
func (s *Store) Probe() error {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(s.opts.Dir, &fs); err == nil && s.opts.MinFree > 0 {
		if free := int64(fs.Bavail) * int64(fs.Bsize); free < s.opts.MinFree {
			return &ProbeError{Reason: "disk full", Err: fmt.Errorf("%d bytes free on the filesystem of %s, fewer than store_min_free_mib", free, s.opts.Dir)}
		}
	}
	err := s.DB.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketProbe)
		if err != nil {
			return err
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(s.opts.Now().UnixNano()))
		return b.Put(keyProbe, v[:])
	})
	if err == nil {
		s.mu.Lock()
		due := s.opts.Now().Sub(s.witnessed) >= witnessEvery
		if due {
			s.witnessed = s.opts.Now()
		}
		s.mu.Unlock()
		if due {
			err = s.witness()
		}
	}
	if err != nil {
		reason := gateway.IOFault(err)
		if reason == "" {
			reason = "store write failed"
		}
		return &ProbeError{Reason: reason, Err: err}
	}
	return nil
}

// ioRefusal explains a failure to use data_dir or the store file.
func (s *Store) ioRefusal(err error, doing string) error {
	switch {
	case errors.Is(err, syscall.EROFS):
		return refuse(fmt.Errorf("%w: %w", ErrReadOnly, err),
			fmt.Sprintf("cannot %s: the filesystem is read-only (%v)", doing, err),
			"remount the filesystem read-write, or move data_dir to a writable disk; the disk may have been remounted read-only after I/O errors: check the kernel log (dmesg) first")
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return refuse(fmt.Errorf("%w: %w", ErrPermission, err),
			fmt.Sprintf("cannot %s: permission denied (%v)", doing, err),
			"run the node as the user that owns data_dir, or fix the ownership and mode of data_dir and its files; check for an immutable attribute with lsattr")
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return refuse(fmt.Errorf("%w: %w", ErrNoSpace, err),
			fmt.Sprintf("cannot %s: the disk is full (%v)", doing, err), "free space on the disk that holds data_dir")
	case errors.Is(err, syscall.EIO):
		return refuse(fmt.Errorf("%w: %w", ErrDamaged, err),
			fmt.Sprintf("cannot %s: I/O error (%v)", doing, err),
			"check the disk (dmesg, smartctl); if it is failing, restore the newest backup onto another disk:\n"+s.restoreCommand("BACKUP_FILE"))
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// damageRefusal explains damage CheckFile found.
func (s *Store) damageRefusal(err error) error {
	var de *DamageError
	if !errors.As(err, &de) {
		return s.ioRefusal(err, "check "+s.path)
	}
	restore := "restore the newest backup (the damaged file is kept aside):\n" + s.restoreCommand("BACKUP_FILE")
	switch de.Kind {
	case ErrTruncated:
		return refuse(err, fmt.Sprintf("the store %s is truncated: %s", s.path, de.Detail),
			"check that the disk is not full and the filesystem is sound, then "+restore)
	case ErrBadHeader:
		return refuse(err, fmt.Sprintf("the store %s is not a readable store: its header is damaged: %s", s.path, de.Detail), restore)
	case ErrEmpty:
		return refuse(err, fmt.Sprintf("the store %s is empty", s.path), restore)
	}
	return refuse(err, fmt.Sprintf("the store %s is damaged: %s", s.path, de.Detail),
		"check the disk (dmesg, smartctl), then "+restore)
}

func (s *Store) restoreCommand(from string) string {
	return fmt.Sprintf("jiexu node restore --config %s --from %s", s.opts.config(), from)
}
