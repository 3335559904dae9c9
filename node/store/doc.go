// Package store opens a node's bbolt store only when it can be trusted,
// and keeps what the store cannot keep about itself outside it.
//
// A bbolt file can be damaged (truncated, zeroed, overwritten), replaced by
// an older copy (a backup copied back, a file restored from a snapshot of
// the disk) or lost. bbolt maps the file and trusts its pointers, so damage
// crashes the process (SIGBUS, a panic); an older copy is a sound store
// that silently hands out certificate serials and case ids the node already
// gave to others.
//
//   - CheckFile validates a file before anything maps it: size, both meta
//     pages, and the whole page tree, reading with pread and checking every
//     offset.
//
//   - Every store has an identity (a random id, the region, an epoch) inside
//     it, and a sidecar beside it (data_dir/jiexu.id, replaced atomically
//     and synced) with the same id and epoch, the highest value each
//     counter may have reached, and a transaction the store had committed.
//     Counters are reserved in blocks before they are used (Reserve, called
//     in the transaction that allocates a value), so the sidecar is written
//     once per block, not per value.
//
//   - Open refuses a store that is damaged, empty, locked by another
//     process, on a read-only filesystem, missing while the sidecar exists,
//     a backup, another node's, or older than the sidecar's transaction,
//     and says what to do. Probe is the health check's write probe.
//
//   - Restore puts a backup in place: it advances the epoch past every
//     epoch seen and moves every counter past the sidecar's marks, so that
//     nothing numbered after a restore equals anything numbered before.
//     RestoreOptions.RollForward is where catching up from the peers goes.
//
//     s, err := store.Open(store.Options{Dir: cfg.DataDir, Region: cfg.Region, Counters: counters})
//     if err != nil { return err } // a *RefusedError says what to do
//     defer s.Close()
//     err = s.DB.Update(func(tx *bolt.Tx) error {
//     n := nextValue(tx, "cert/2026")
//     return store.Reserve(tx, "cert/2026", n)
//     })
//
// Lock order: Store.mu only, held while the sidecar is written (which can
// happen inside a bbolt write transaction, never the other way round).
package store
