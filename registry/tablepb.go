package registry

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// maxTableFile bounds one decompressed file of a table in a snapshot
// (history.csv is about 0.5 MB).
const maxTableFile = 32 << 20

// Proto returns the table as a snapshot carries it: version, digest and
// both canonical files compressed (about 100 kB for mca-2024).
func (t *Table) Proto() *jiexuv1.DivisionTable {
	return &jiexuv1.DivisionTable{
		Version:     t.version,
		Sha256:      t.digest[:],
		CurrentGzip: gzipBytes(t.current),
		HistoryGzip: gzipBytes(t.hist),
	}
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	w, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, maxTableFile+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxTableFile {
		return nil, fmt.Errorf("larger than %d bytes", maxTableFile)
	}
	return out, nil
}

// TableFromProto rebuilds a table a snapshot carries and checks that it is
// the one its digest names.
func TableFromProto(p *jiexuv1.DivisionTable) (*Table, error) {
	current, err := gunzip(p.GetCurrentGzip())
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot's table in force: %w", ErrBadTable, err)
	}
	hist, err := gunzip(p.GetHistoryGzip())
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot's history: %w", ErrBadTable, err)
	}
	rows, err := ParseCurrent(bytes.NewReader(current))
	if err != nil {
		return nil, fmt.Errorf("snapshot's table in force: %w", err)
	}
	periods, err := ParseHistory(bytes.NewReader(hist))
	if err != nil {
		return nil, fmt.Errorf("snapshot's history: %w", err)
	}
	t, err := NewTable(p.GetVersion(), rows, periods)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(t.digest[:], p.GetSha256()) {
		return nil, fmt.Errorf("%w: snapshot's table %s does not match its digest", ErrBadTable, p.GetVersion())
	}
	return t, nil
}

// SameTable reports whether a snapshot's table is t, by version and digest.
func (t *Table) SameTable(p *jiexuv1.DivisionTable) bool {
	return p.GetVersion() == t.version && bytes.Equal(p.GetSha256(), t.digest[:])
}
