package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// auditFixture is a gateway with a chain of n case transitions over three
// cases and a checkpoint every 5 entries.
func auditFixture(t testing.TB, n int) *Gateway {
	t.Helper()
	f := newFixture(t)
	g := f.gateway(t, func(c *Config) { c.AuditCheckpointEvery = 5 })
	if err := g.cfg.DB.Update(func(tx *bolt.Tx) error {
		for i := 0; i < n; i++ {
			if err := g.Audit().Append(tx, CaseTransition(fmt.Sprintf("case-%d", i%3), "A", fmt.Sprintf("S%d", i))); err != nil {
				return err
			}
		}
		// And a message out, with its seal.
		return g.Enqueue(tx, "150700", jiexuv1.TransferService_RejectTransfer_FullMethodName, "case-0",
			&jiexuv1.RejectTransferRequest{Reason: jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED, Detail: "无参保记录"})
	}); err != nil {
		t.Fatal(err)
	}
	return g
}

func verify(t *testing.T, g *Gateway) *jiexuv1.VerifyAuditResponse {
	t.Helper()
	var r *jiexuv1.VerifyAuditResponse
	_ = g.cfg.DB.View(func(tx *bolt.Tx) error { r = VerifyAudit(tx, g.cfg.CA); return nil })
	return r
}

func TestAuditChainDetectsEdits(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(tx *bolt.Tx) error
		want   string // in the problem
	}{
		{"untouched", func(*bolt.Tx) error { return nil }, ""},
		{"one byte of an entry", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			v := bytes.Clone(b.Get(seqKey(3)))
			i := bytes.Index(v, []byte("S2"))
			v[i+1] = '9'
			return b.Put(seqKey(3), v)
		}, "checkpoint 6"},
		{"an entry re-encoded with another state, the chain recomputed without the key", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			e := &jiexuv1.AuditEntry{}
			_ = proto.Unmarshal(b.Get(seqKey(2)), e)
			e.Detail = "A → REJECTED"
			v, _ := proto.MarshalOptions{Deterministic: true}.Marshal(e)
			if err := b.Put(seqKey(2), v); err != nil {
				return err
			}
			hash := zeroHash
			c := b.Cursor()
			var seq uint64
			for k, v := c.First(); k != nil; k, v = c.Next() {
				hash, seq = chainNext(hash, v), seq+1
			}
			return putAuditHead(tx, seq, hash)
		}, "checkpoint 6"},
		{"the last entries cut off", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			for _, s := range []uint64{17, 16} {
				if err := b.Delete(seqKey(s)); err != nil {
					return err
				}
			}
			return nil
		}, "chain head"},
		{"an entry removed", func(tx *bolt.Tx) error { return tx.Bucket(bucketAudit).Delete(seqKey(8)) }, "entry 8 missing"},
		{"two entries swapped", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			a, c := bytes.Clone(b.Get(seqKey(4))), bytes.Clone(b.Get(seqKey(7)))
			if err := b.Put(seqKey(4), c); err != nil {
				return err
			}
			return b.Put(seqKey(7), a)
		}, "entry 4 holds entry 7"},
		{"a message's seal", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			k, v := b.Cursor().Last()
			e := &jiexuv1.AuditEntry{}
			_ = proto.Unmarshal(v, e)
			e.Message = bytes.Replace(e.Message, []byte("无参保记录"), []byte("已转出记录"), 1)
			v, _ = proto.MarshalOptions{Deterministic: true}.Marshal(e)
			return b.Put(k, v)
		}, "message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := auditFixture(t, 13)
			// 13 transitions, checkpoints at 6, 11 and 16, the message at 17.
			if r := verify(t, g); r.GetProblem() != "" || r.GetEntries() != 17 || r.GetCheckpoints() != 3 {
				t.Fatalf("before tampering: %v", r)
			}
			if err := g.cfg.DB.Update(tt.tamper); err != nil {
				t.Fatal(err)
			}
			r := verify(t, g)
			if tt.want == "" {
				if r.GetProblem() != "" {
					t.Fatalf("untouched chain: %s", r.GetProblem())
				}
				return
			}
			if !strings.Contains(r.GetProblem(), tt.want) {
				t.Fatalf("problem = %q, want it to mention %q", r.GetProblem(), tt.want)
			}
		})
	}
}

func TestAuditExport(t *testing.T) {
	g := auditFixture(t, 13)
	x, err := g.Audit().ExportCase("case-1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := VerifyExport(x, g.cfg.CA)
	if err != nil {
		t.Fatalf("VerifyExport = %v", err)
	}
	if len(r.Entries) != 4 { // case-1: transitions 1, 4, 7, 10 at sequences 2, 5, 9, 13
		t.Errorf("export holds %d entries of case-1, want 4", len(r.Entries))
	}
	for _, l := range x.GetLinks() {
		if l.GetEntry() != nil && bytes.Contains(l.GetEntry(), []byte("case-0")) {
			t.Fatalf("the export shows another case's entry %d", l.GetSequence())
		}
	}
	if _, err := g.Audit().ExportCase("no-such-case"); !errors.Is(err, ErrNoAuditEntries) {
		t.Errorf("ExportCase(unknown) = %v", err)
	}
	tamper := func(mutate func(*jiexuv1.AuditExport)) error {
		c := proto.Clone(x).(*jiexuv1.AuditExport)
		mutate(c)
		_, err := VerifyExport(c, g.cfg.CA)
		return err
	}
	tests := []struct {
		name   string
		mutate func(*jiexuv1.AuditExport)
	}{
		{"an entry edited", func(c *jiexuv1.AuditExport) {
			for _, l := range c.Links {
				if i := bytes.Index(l.Entry, []byte("S1")); i >= 0 {
					l.Entry[i+1] = '7'
					return
				}
			}
		}},
		{"a digest changed", func(c *jiexuv1.AuditExport) {
			for _, l := range c.Links {
				if l.Digest != nil {
					l.Digest[0] ^= 1
					return
				}
			}
		}},
		{"the last checkpoint dropped", func(c *jiexuv1.AuditExport) { c.Links = c.Links[:len(c.Links)-1] }},
		{"the start moved", func(c *jiexuv1.AuditExport) { c.StartHash = bytes.Repeat([]byte{1}, 32) }},
		{"another case's name", func(c *jiexuv1.AuditExport) { c.CaseId = "case-2" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tamper(tt.mutate); !errors.Is(err, ErrAuditTampered) {
				t.Fatalf("VerifyExport = %v, want ErrAuditTampered", err)
			}
		})
	}
}

func FuzzVerifyExport(f *testing.F) {
	g := auditFixture(f, 13)
	x, err := g.Audit().ExportCase("case-1")
	if err != nil {
		f.Fatal(err)
	}
	wire, _ := proto.Marshal(x)
	f.Add(wire)
	f.Fuzz(func(t *testing.T, data []byte) {
		var x jiexuv1.AuditExport
		if proto.Unmarshal(data, &x) != nil {
			return
		}
		if r, err := VerifyExport(&x, g.cfg.CA); err == nil && len(r.Entries) == 0 {
			t.Fatal("an export of no entries verified")
		}
	})
}
