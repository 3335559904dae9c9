package certs

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Batch seals. One signature covers a batch of contents: the signer signs
// the root of a Merkle tree whose leaves are the contents' digests, and the
// seal of each content carries the root, the content's index and the
// sibling hashes from its leaf up to the root (Seal.batch_proof). Anyone
// who holds one content and its seal checks it alone, as a seal over that
// content: recompute the leaf from the content, fold the path into a root,
// check that it is the root given, and check the signature over the root.
// A verifier that has checked a root's signature remembers it, so a batch
// costs one signature check however many of its contents arrive.
//
//	leaf(c)    = SHA-256(0x00 || SHA-256(domain || 0x00 || c))
//	node(l, r) = SHA-256(0x01 || l || r)
//	padding    = SHA-256(0x02)           (leaves up to a power of two)
//	signed     = SHA-256("jiexu/v1 batch root" || 0x00 || domain || 0x00 || root)
//
// The prefixes keep a leaf from passing as an inner node or a padding leaf,
// and the signed digest of a root from passing as the digest of a content
// sealed alone (no sealing domain is "jiexu/v1 batch root"). The domain is
// in the leaves and in the signed root, so a batch sealed for messages
// proves nothing as receipts or certificates. Only messages are
// batch-sealed (CheckSignature refuses a batch seal in any other domain):
// certificates, receipts, snapshots and checkpoints are sealed alone.

// DomainBatchRoot prefixes the digest a batch seal's signature covers.
const DomainBatchRoot = "jiexu/v1 batch root"

// MaxBatchPath is the longest proof accepted: 2^32 leaves, as the index is
// 32 bits.
const MaxBatchPath = 32

var (
	leafPrefix    = []byte{0x00}
	nodePrefix    = []byte{0x01}
	paddingLeaf   = sha256.Sum256([]byte{0x02})
	batchRootName = []byte(DomainBatchRoot + "\x00")
)

func batchLeaf(domain string, content []byte) []byte {
	h := sha256.New()
	h.Write(leafPrefix)
	h.Write(digest(domain, content))
	return h.Sum(nil)
}

func batchNode(l, r []byte) []byte {
	h := sha256.New()
	h.Write(nodePrefix)
	h.Write(l)
	h.Write(r)
	return h.Sum(nil)
}

func batchRootDigest(domain string, root []byte) []byte {
	h := sha256.New()
	h.Write(batchRootName)
	h.Write([]byte(domain))
	h.Write([]byte{0})
	h.Write(root)
	return h.Sum(nil)
}

// SealBatch seals each of contents under a domain with one signature over
// the batch (see Batch seals above); seal i is content i's. A batch of one
// is sealed alone, exactly as Seal does.
func (s *Signer) SealBatch(domain string, contents [][]byte) ([]*jiexuv1.Seal, error) {
	switch len(contents) {
	case 0:
		return nil, nil
	case 1:
		seal, err := s.Seal(domain, contents[0])
		if err != nil {
			return nil, err
		}
		return []*jiexuv1.Seal{seal}, nil
	}
	if uint64(len(contents)) > 1<<MaxBatchPath {
		return nil, fmt.Errorf("seal batch: %d contents, at most 2^%d", len(contents), MaxBatchPath)
	}
	width := 1
	for width < len(contents) {
		width <<= 1
	}
	// levels[0] are the leaves, levels[len-1] the root.
	level := make([][]byte, width)
	for i := range level {
		if i < len(contents) {
			level[i] = batchLeaf(domain, contents[i])
		} else {
			level[i] = paddingLeaf[:]
		}
	}
	levels := [][][]byte{level}
	for len(level) > 1 {
		up := make([][]byte, len(level)/2)
		for i := range up {
			up[i] = batchNode(level[2*i], level[2*i+1])
		}
		levels = append(levels, up)
		level = up
	}
	root := level[0]
	sig, err := s.Key.Sign(rand.Reader, batchRootDigest(domain, root), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("seal batch: %w", err)
	}
	seals := make([]*jiexuv1.Seal, len(contents))
	for i := range contents {
		path := make([][]byte, 0, len(levels)-1)
		for d, idx := 0, i; d < len(levels)-1; d, idx = d+1, idx/2 {
			path = append(path, levels[d][idx^1])
		}
		seals[i] = &jiexuv1.Seal{
			KeyId:       s.fp,
			Algorithm:   jiexuv1.SealAlgorithm_SEAL_ALGORITHM_ECDSA_P256_SHA256,
			Signature:   sig,
			Certificate: s.Cert.Raw,
			BatchProof:  &jiexuv1.BatchProof{Root: root, Index: uint32(i), Path: path},
		}
	}
	return seals, nil
}

// batchSigned checks a batch proof for content and returns the digest the
// seal's signature must cover.
func batchSigned(p *jiexuv1.BatchProof, domain string, content []byte) ([]byte, error) {
	path := p.GetPath()
	switch {
	case len(p.GetRoot()) != sha256.Size:
		return nil, fmt.Errorf("%w: batch proof: root of %d bytes", ErrBadSeal, len(p.GetRoot()))
	case len(path) == 0 || len(path) > MaxBatchPath:
		return nil, fmt.Errorf("%w: batch proof: path of %d hashes, want 1 to %d", ErrBadSeal, len(path), MaxBatchPath)
	case len(path) < MaxBatchPath && uint64(p.GetIndex()) >= 1<<len(path):
		return nil, fmt.Errorf("%w: batch proof: index %d beyond a path of %d", ErrBadSeal, p.GetIndex(), len(path))
	}
	cur := batchLeaf(domain, content)
	idx := p.GetIndex()
	for _, sib := range path {
		if len(sib) != sha256.Size {
			return nil, fmt.Errorf("%w: batch proof: a path hash of %d bytes", ErrBadSeal, len(sib))
		}
		if idx&1 == 0 {
			cur = batchNode(cur, sib)
		} else {
			cur = batchNode(sib, cur)
		}
		idx >>= 1
	}
	if !bytes.Equal(cur, p.GetRoot()) {
		return nil, fmt.Errorf("%w: batch proof does not lead from this content to the root", ErrBadSeal)
	}
	return batchRootDigest(domain, cur), nil
}

// verifiedRoots remembers batch roots whose signature verified, by signer
// fingerprint, domain, root and signature: the same root under another
// certificate or another signature is checked afresh. Bounded (emptied
// when full).
var verifiedRoots = struct {
	sync.Mutex
	m map[string]struct{}
}{m: map[string]struct{}{}}

// maxRoots bounds the root memory.
const maxRoots = 4096

func rootKey(fp, domain string, root, sig []byte) string {
	return fp + "\x00" + domain + "\x00" + string(root) + string(sig)
}

func rootVerified(key string) bool {
	verifiedRoots.Lock()
	defer verifiedRoots.Unlock()
	_, ok := verifiedRoots.m[key]
	return ok
}

func rememberRoot(key string) {
	verifiedRoots.Lock()
	defer verifiedRoots.Unlock()
	if len(verifiedRoots.m) >= maxRoots {
		clear(verifiedRoots.m)
	}
	verifiedRoots.m[key] = struct{}{}
}
