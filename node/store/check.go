package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/bits"
	"os"
)

// The bbolt file format (version 2), as far as CheckFile reads it. bbolt
// writes its structures in the machine's byte order.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	metaSize       = 64 // magic … txid, then the checksum
	elementSize    = 16 // leaf: flags, pos, ksize, vsize (u32 each); branch: pos, ksize (u32), pgid (u64)
	bucketHeader   = 16 // root u64, sequence u64

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagMeta     = 0x04
	flagFreelist = 0x10
	leafIsBucket = 0x01

	noFreelist = ^uint64(0)
	maxDepth   = 64
)

var byteOrder = binary.NativeEndian

// meta is a decoded meta page.
type meta struct {
	magic, version, pageSize, flags uint32
	root, sequence                  uint64
	freelist, pgid, txid, checksum  uint64
	valid                           error // nil when magic, version and checksum hold
}

func decodeMeta(page []byte) meta {
	if len(page) < pageHeaderSize+metaSize+8 {
		return meta{valid: errors.New("short page")}
	}
	b := page[pageHeaderSize:]
	m := meta{
		magic: byteOrder.Uint32(b[0:]), version: byteOrder.Uint32(b[4:]), pageSize: byteOrder.Uint32(b[8:]), flags: byteOrder.Uint32(b[12:]),
		root: byteOrder.Uint64(b[16:]), sequence: byteOrder.Uint64(b[24:]), freelist: byteOrder.Uint64(b[32:]),
		pgid: byteOrder.Uint64(b[40:]), txid: byteOrder.Uint64(b[48:]), checksum: byteOrder.Uint64(b[56:]),
	}
	h := fnv.New64a()
	h.Write(b[:56])
	switch {
	case m.magic != boltMagic:
		m.valid = errors.New("not a bbolt meta page (bad magic)")
	case m.version != boltVersion:
		m.valid = fmt.Errorf("bbolt format version %d, want %d", m.version, boltVersion)
	case m.checksum != h.Sum64():
		m.valid = errors.New("checksum mismatch")
	case m.pageSize < 1024 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0:
		m.valid = fmt.Errorf("page size %d is not a power of two between 1 KiB and 1 MiB", m.pageSize)
	}
	return m
}

// FileReport is what CheckFile found.
type FileReport struct {
	Size     int64
	PageSize int
	// TxID is the last committed bbolt transaction; HighWater the number
	// of pages in use; Root the page of the root bucket.
	TxID, HighWater, Root uint64
	// Reachable and Free count the pages in the tree and in the freelist.
	Reachable, Free int
	// DamagedMeta names a meta page (0 or 1) that failed its checks while
	// the other held: bbolt opens the file at the other's (older)
	// transaction. -1 when both are sound.
	DamagedMeta int
	// MetaProblem says what was wrong with DamagedMeta.
	MetaProblem string
}

// DamageError describes damage CheckFile found.
type DamageError struct {
	// Kind is ErrEmpty, ErrTruncated, ErrBadHeader or ErrDamaged.
	Kind error
	// Detail says where.
	Detail string
}

func (e *DamageError) Error() string { return e.Kind.Error() + ": " + e.Detail }
func (e *DamageError) Unwrap() error { return e.Kind }

func damage(kind error, format string, args ...any) error {
	return &DamageError{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// CheckFile validates a bbolt file before anything maps it: its size, both
// meta pages (magic, version, checksum), and the whole page tree — every
// page within the file, of the right type, its elements within the page,
// keys in order, no page used twice, and every page below the high-water
// mark either in the tree or free — reading with pread, never mmap, and
// checking every offset, so that no damage can make it (or bbolt, which
// opens the file only after it passed) crash with SIGBUS or panic.
func CheckFile(path string) (*FileReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	r := &FileReport{Size: fi.Size(), DamagedMeta: -1}
	if r.Size == 0 {
		return r, damage(ErrEmpty, "the file has 0 bytes")
	}
	m, err := chooseMeta(f, r)
	if err != nil {
		return r, err
	}
	ps := int64(m.pageSize)
	r.PageSize, r.TxID, r.HighWater, r.Root = int(ps), m.txid, m.pgid, m.root
	switch {
	case r.Size%ps != 0:
		return r, damage(ErrTruncated, "%d bytes is not a whole number of %d-byte pages", r.Size, ps)
	case m.pgid < 2 || m.pgid > uint64(r.Size/ps):
		return r, damage(ErrTruncated, "the store uses %d pages but the file holds %d", m.pgid, r.Size/ps)
	case m.root < 2 || m.root >= m.pgid:
		return r, damage(ErrBadHeader, "the root page %d is outside the store's %d pages", m.root, m.pgid)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid):
		return r, damage(ErrBadHeader, "the freelist page %d is outside the store's %d pages", m.freelist, m.pgid)
	}
	adviseSequential(f) // bbolt lays a tree out mostly in file order: read ahead
	w := &walker{f: f, ps: ps, hwm: m.pgid, used: newPageSet(m.pgid)}
	w.used.add(0)
	w.used.add(1)
	free := newPageSet(m.pgid)
	if m.freelist != noFreelist {
		if err := w.freelist(m.freelist, free); err != nil {
			return r, err
		}
	}
	if err := w.tree(m.root, 0, nil); err != nil {
		return r, err
	}
	for i := range w.used.bits {
		both, neither := w.used.bits[i]&free.bits[i], ^(w.used.bits[i] | free.bits[i])
		if i == len(w.used.bits)-1 && m.pgid%64 != 0 {
			neither &= 1<<(m.pgid%64) - 1 // bits past the last page
		}
		switch {
		case both != 0:
			return r, damage(ErrDamaged, "page %d is both in use and free", uint64(i)*64+uint64(bits.TrailingZeros64(both)))
		case neither != 0:
			return r, damage(ErrDamaged, "page %d is neither in use nor free", uint64(i)*64+uint64(bits.TrailingZeros64(neither)))
		}
	}
	r.Reachable, r.Free = w.used.n, free.n
	return r, nil
}

// pageSet is a set of page ids below a high-water mark: a bit a page, so
// that checking a store of millions of pages costs megabytes, not a map.
type pageSet struct {
	bits []uint64
	n    int
}

func newPageSet(hwm uint64) *pageSet { return &pageSet{bits: make([]uint64, (hwm+63)/64)} }

func (s *pageSet) has(id uint64) bool { return s.bits[id/64]&(1<<(id%64)) != 0 }

// add adds id and reports whether it was new.
func (s *pageSet) add(id uint64) bool {
	if s.has(id) {
		return false
	}
	s.bits[id/64] |= 1 << (id % 64)
	s.n++
	return true
}

// chooseMeta reads both meta pages and picks the one bbolt would: the valid
// one with the higher transaction.
func chooseMeta(f *os.File, r *FileReport) (meta, error) {
	first := make([]byte, 4096)
	n, err := f.ReadAt(first, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return meta{}, err
	}
	m0 := decodeMeta(first[:n])
	// The second meta page sits one page in: at m0's page size if m0 is
	// sound, else at each plausible page size.
	sizes := []int64{4096, 8192, 16384, 32768, 65536, 1024, 2048}
	if m0.valid == nil {
		sizes = []int64{int64(m0.pageSize)}
	} else if os := int64(os.Getpagesize()); os != 4096 {
		sizes = append([]int64{os}, sizes...)
	}
	var m1 meta
	m1.valid = errors.New("not found")
	for _, ps := range sizes {
		if ps+int64(pageHeaderSize+metaSize+8) > r.Size {
			continue
		}
		buf := make([]byte, pageHeaderSize+metaSize+8)
		if _, err := f.ReadAt(buf, ps); err != nil {
			return meta{}, err
		}
		if m := decodeMeta(buf); m.valid == nil && int64(m.pageSize) == ps {
			m1 = m
			break
		} else if m0.valid == nil {
			m1 = m
			if m.valid == nil {
				m1.valid = fmt.Errorf("page size %d, meta page 0 says %d", m.pageSize, ps)
			}
		}
	}
	switch {
	case m0.valid != nil && m1.valid != nil:
		if r.Size < 2*4096 && m0.magic == boltMagic {
			return meta{}, damage(ErrTruncated, "%d bytes cannot hold the two meta pages", r.Size)
		}
		return meta{}, damage(ErrBadHeader, "both meta pages are damaged (page 0: %v; page 1: %v)", m0.valid, m1.valid)
	case m0.valid != nil:
		r.DamagedMeta, r.MetaProblem = 0, m0.valid.Error()
		return m1, nil
	case m1.valid != nil:
		r.DamagedMeta, r.MetaProblem = 1, m1.valid.Error()
		return m0, nil
	case m1.txid > m0.txid:
		return m1, nil
	}
	return m0, nil
}

// walker reads pages of a bbolt file and checks the tree.
type walker struct {
	f    *os.File
	ps   int64
	hwm  uint64
	used *pageSet
	// bufs holds a read buffer for each depth of the tree: a page's
	// buffer is in use while the pages below it are read.
	bufs [maxDepth + 2][]byte
}

// page reads page id and its overflow pages at depth, checking the header.
// The buffer it returns is reused for the next page read at that depth.
func (w *walker) page(id uint64, want uint16, depth int) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, damage(ErrDamaged, "a reference to page %d, outside the store's %d pages", id, w.hwm)
	}
	buf := w.buffer(depth, w.ps)
	if _, err := w.f.ReadAt(buf, int64(id)*w.ps); err != nil {
		return nil, fmt.Errorf("read page %d: %w", id, err)
	}
	gotID, flags, overflow := byteOrder.Uint64(buf), byteOrder.Uint16(buf[8:]), uint64(byteOrder.Uint32(buf[12:]))
	switch {
	case gotID != id:
		return nil, damage(ErrDamaged, "page %d says it is page %d", id, gotID)
	case want == flagBranch|flagLeaf && flags != flagBranch && flags != flagLeaf:
		return nil, damage(ErrDamaged, "page %d has type %#x, want a branch or a leaf", id, flags)
	case want != flagBranch|flagLeaf && flags != want:
		return nil, damage(ErrDamaged, "page %d has type %#x, want %#x", id, flags, want)
	case id+overflow >= w.hwm:
		return nil, damage(ErrDamaged, "page %d runs %d pages past the store's end", id, id+overflow+1-w.hwm)
	}
	for p := id; p <= id+overflow; p++ {
		if !w.used.add(p) {
			return nil, damage(ErrDamaged, "page %d is used twice", p)
		}
	}
	if overflow > 0 {
		buf = w.buffer(depth, int64(overflow+1)*w.ps)
		if _, err := w.f.ReadAt(buf[w.ps:], int64(id+1)*w.ps); err != nil {
			return nil, fmt.Errorf("read page %d: %w", id, err)
		}
	}
	return buf, nil
}

// buffer returns depth's buffer with n bytes, keeping what it held.
func (w *walker) buffer(depth int, n int64) []byte {
	b := w.bufs[depth]
	if int64(cap(b)) < n {
		b = append(b[:cap(b)], make([]byte, n-int64(cap(b)))...)
	}
	w.bufs[depth] = b[:n]
	return w.bufs[depth]
}

// freelist reads the freelist page into free.
func (w *walker) freelist(id uint64, free *pageSet) error {
	buf, err := w.page(id, flagFreelist, 0)
	if err != nil {
		return err
	}
	count, off := uint64(byteOrder.Uint16(buf[10:])), uint64(pageHeaderSize)
	if count == 0xFFFF { // the real count is the first element
		count, off = byteOrder.Uint64(buf[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > (uint64(len(buf))-off)/8 {
		return damage(ErrDamaged, "the freelist page %d claims %d entries, more than it holds", id, count)
	}
	for i := uint64(0); i < count; i++ {
		p := byteOrder.Uint64(buf[off+8*i:])
		if p < 2 || p >= w.hwm {
			return damage(ErrDamaged, "the freelist names page %d, outside the store's %d pages", p, w.hwm)
		}
		if !free.add(p) {
			return damage(ErrDamaged, "page %d is freed twice", p)
		}
	}
	return nil
}

// tree checks the page tree rooted at id; every key must be at least min.
func (w *walker) tree(id uint64, depth int, min []byte) error {
	if depth > maxDepth {
		return damage(ErrDamaged, "the tree under page %d is more than %d levels deep", id, maxDepth)
	}
	buf, err := w.page(id, flagBranch|flagLeaf, depth)
	if err != nil {
		return err
	}
	return w.nodes(buf, id, depth, min)
}

// nodes checks the elements of a branch or leaf page held in buf (a page
// of the file, or a bucket's inline page).
func (w *walker) nodes(buf []byte, id uint64, depth int, min []byte) error {
	flags, count := byteOrder.Uint16(buf[8:]), int(byteOrder.Uint16(buf[10:]))
	if pageHeaderSize+count*elementSize > len(buf) {
		return damage(ErrDamaged, "page %d claims %d elements, more than it holds", id, count)
	}
	prev := min
	for i := range count {
		e := pageHeaderSize + i*elementSize
		var pos, ksize, vsize, eflags uint32
		var child uint64
		if flags == flagLeaf {
			eflags, pos, ksize, vsize = byteOrder.Uint32(buf[e:]), byteOrder.Uint32(buf[e+4:]), byteOrder.Uint32(buf[e+8:]), byteOrder.Uint32(buf[e+12:])
		} else {
			pos, ksize, child = byteOrder.Uint32(buf[e:]), byteOrder.Uint32(buf[e+4:]), byteOrder.Uint64(buf[e+8:])
		}
		start := uint64(e) + uint64(pos)
		end := start + uint64(ksize) + uint64(vsize)
		if end > uint64(len(buf)) {
			return damage(ErrDamaged, "page %d element %d lies outside the page", id, i)
		}
		key := buf[start : start+uint64(ksize)]
		if prev != nil && bytes.Compare(key, prev) < 0 {
			return damage(ErrDamaged, "page %d element %d is out of key order", id, i)
		}
		prev = key
		if flags != flagLeaf {
			if err := w.tree(child, depth+1, key); err != nil {
				return err
			}
			continue
		}
		if eflags&leafIsBucket == 0 {
			continue
		}
		value := buf[start+uint64(ksize) : end]
		if len(value) < bucketHeader {
			return damage(ErrDamaged, "page %d element %d is a bucket with a %d-byte header", id, i, len(value))
		}
		root := byteOrder.Uint64(value)
		if root != 0 {
			if err := w.tree(root, depth+1, nil); err != nil {
				return err
			}
			continue
		}
		inline := value[bucketHeader:]
		if len(inline) < pageHeaderSize || byteOrder.Uint16(inline[8:]) != flagLeaf {
			return damage(ErrDamaged, "page %d element %d holds a damaged inline bucket", id, i)
		}
		if err := w.nodes(inline, id, depth+1, nil); err != nil {
			return err
		}
	}
	return nil
}
