package certs_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/certs/certtest"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

func batchContents(n int, tag string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%s message %d", tag, i)
	}
	return out
}

// Every content of a batch checks alone, from its bytes and its seal, for
// batch sizes that fill a tree and that do not.
func TestSealBatchEachChecksAlone(t *testing.T) {
	ca := certtest.NewCA(t)
	n := certtest.Node(t, ca, "150100")
	roots, _ := certs.LoadPool(n.CAFile())
	for _, size := range []int{1, 2, 3, 5, 8, 33} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			contents := batchContents(size, "a")
			seals, err := n.Signer.SealBatch(certs.DomainMessage, contents)
			if err != nil {
				t.Fatal(err)
			}
			if len(seals) != size {
				t.Fatalf("%d seals for %d contents", len(seals), size)
			}
			if size == 1 && seals[0].GetBatchProof() != nil {
				t.Errorf("a batch of one carries a proof; want a seal alone")
			}
			for i, s := range seals {
				// A copy through the wire, as a receiver gets it.
				wire, _ := proto.Marshal(s)
				got := &jiexuv1.Seal{}
				if err := proto.Unmarshal(wire, got); err != nil {
					t.Fatal(err)
				}
				if _, err := certs.CheckSeal(got, certs.DomainMessage, contents[i], roots, nil, time.Now()); err != nil {
					t.Errorf("content %d: CheckSeal = %v", i, err)
				}
				if size > 1 && !bytes.Equal(s.GetSignature(), seals[0].GetSignature()) {
					t.Errorf("content %d: a signature of its own; want one for the batch", i)
				}
			}
		})
	}
}

// What a batch seal must not prove: each case is checked on a fresh copy of
// a good seal, after the good seals were checked (so the root is
// remembered), and must fail.
func TestSealBatchTampering(t *testing.T) {
	ca := certtest.NewCA(t)
	a, b := certtest.Node(t, ca, "150100"), certtest.Node(t, ca, "150700")
	roots, _ := certs.LoadPool(a.CAFile())
	contents := batchContents(5, "a")
	seals, err := a.Signer.SealBatch(certs.DomainMessage, contents)
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Signer.SealBatch(certs.DomainMessage, batchContents(5, "other"))
	if err != nil {
		t.Fatal(err)
	}
	bSeals, err := b.Signer.SealBatch(certs.DomainMessage, batchContents(5, "b"))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seals { // remembered from here on
		if _, err := certs.CheckSeal(s, certs.DomainMessage, contents[i], roots, nil, time.Now()); err != nil {
			t.Fatalf("good seal %d: %v", i, err)
		}
	}
	seal := func(i int, f func(s *jiexuv1.Seal)) *jiexuv1.Seal {
		s := proto.Clone(seals[i]).(*jiexuv1.Seal)
		f(s)
		return s
	}
	tests := []struct {
		name    string
		seal    *jiexuv1.Seal
		domain  string
		content []byte
	}{
		{"a changed leaf", seals[2], certs.DomainMessage, []byte("a message 2, edited")},
		{"another content of the batch under this one's proof", seals[2], certs.DomainMessage, contents[3]},
		{"the index of another leaf", seal(2, func(s *jiexuv1.Seal) { s.BatchProof.Index = 3 }), certs.DomainMessage, contents[2]},
		{"a proof from another batch", seal(2, func(s *jiexuv1.Seal) { s.BatchProof = other[2].GetBatchProof() }), certs.DomainMessage, contents[2]},
		{"another batch's proof and signature", seal(2, func(s *jiexuv1.Seal) { s.BatchProof, s.Signature = other[2].GetBatchProof(), other[2].GetSignature() }), certs.DomainMessage, contents[2]},
		{"the root, reused with another signer's certificate", seal(2, func(s *jiexuv1.Seal) { s.Certificate, s.KeyId = b.Signer.Cert.Raw, bSeals[0].GetKeyId() }), certs.DomainMessage, contents[2]},
		{"another signer's signature over its own root", seal(2, func(s *jiexuv1.Seal) { s.Signature = bSeals[2].GetSignature() }), certs.DomainMessage, contents[2]},
		{"a path hash changed", seal(2, func(s *jiexuv1.Seal) { s.BatchProof.Path[0] = bytes.Repeat([]byte{7}, 32) }), certs.DomainMessage, contents[2]},
		{"a path cut short", seal(2, func(s *jiexuv1.Seal) { s.BatchProof.Path = s.BatchProof.Path[:1] }), certs.DomainMessage, contents[2]},
		{"an index beyond the path", seal(2, func(s *jiexuv1.Seal) { s.BatchProof.Index += 1 << 3 }), certs.DomainMessage, contents[2]},
		{"an empty path with the root as the leaf", seal(2, func(s *jiexuv1.Seal) { s.BatchProof.Path, s.BatchProof.Index = nil, 0 }), certs.DomainMessage, contents[2]},
		{"a short root", seal(2, func(s *jiexuv1.Seal) { s.BatchProof.Root = s.BatchProof.Root[:16] }), certs.DomainMessage, contents[2]},
		{"a message batch presented as a certificate's seal", seals[2], certs.DomainCertificate, contents[2]},
		{"the root's signature as a seal of the root alone", seal(2, func(s *jiexuv1.Seal) { s.BatchProof = nil }), certs.DomainMessage, seals[2].GetBatchProof().GetRoot()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := certs.CheckSeal(tt.seal, tt.domain, tt.content, roots, nil, time.Now()); !errors.Is(err, certs.ErrBadSeal) {
				t.Errorf("CheckSeal = %v, want ErrBadSeal", err)
			}
		})
	}
	// A good seal still checks after all that.
	if _, err := certs.CheckSeal(seals[4], certs.DomainMessage, contents[4], roots, nil, time.Now()); err != nil {
		t.Errorf("good seal after the tampering: %v", err)
	}
}
