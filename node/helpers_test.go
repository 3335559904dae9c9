package node

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// testDB opens a store in a temporary folder with the node's buckets, for
// tests of what the node does inside a transaction.
func testDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "node.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(createBuckets); err != nil {
		t.Fatal(err)
	}
	return db
}
