package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protojson"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// readSidecar reads the sidecar; it returns nil, nil when there is none.
func readSidecar(path string) (*jiexuv1.StoreSidecar, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sc := &jiexuv1.StoreSidecar{}
	if err := protojson.Unmarshal(data, sc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sc.GetStoreId() == "" || sc.GetEpoch() == 0 {
		return nil, fmt.Errorf("%s: no store id or epoch", path)
	}
	return sc, nil
}

// writeSidecar replaces the sidecar atomically: a temporary file written and
// synced, renamed over the old one, and the folder synced, so that a crash
// leaves either the old sidecar or the new one.
func writeSidecar(path string, sc *jiexuv1.StoreSidecar) error {
	data, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(sc)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
