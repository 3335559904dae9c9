package node

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"jiexu/gateway"
)

// counters lets the store keeper (node/store) read and raise every counter
// the node numbers things with: the named counters of bucketCounters
// (certificate serials per year, case ids per day) and the gateway's outbox
// sequence.
type counters struct{}

func (counters) Read(tx *bolt.Tx) (map[string]uint64, error) {
	out := map[string]uint64{}
	if b := tx.Bucket(bucketCounters); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				out[string(k)] = binary.BigEndian.Uint64(v)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if seq := gateway.OutboxSequence(tx); seq > 0 {
		out[gateway.OutboxCounter] = seq
	}
	return out, nil
}

func (counters) Raise(tx *bolt.Tx, name string, v uint64) error {
	if name == gateway.OutboxCounter {
		return gateway.RaiseOutboxSequence(tx, v)
	}
	b, err := tx.CreateBucketIfNotExists(bucketCounters)
	if err != nil {
		return err
	}
	if old := b.Get([]byte(name)); len(old) == 8 && binary.BigEndian.Uint64(old) >= v {
		return nil
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	return b.Put([]byte(name), buf[:])
}
