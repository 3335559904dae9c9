package registry

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Files in a registry folder.
const (
	// DirectoryFile is the editable directory of nodes (JSON).
	DirectoryFile = "directory.json"
	// SnapshotFile is the latest signed snapshot (binary SignedSnapshot).
	SnapshotFile = "snapshot.pb"
	// AnnouncementFile is the CA's announcement of the registry certificate
	// (binary RegistryAnnouncement, 'jiexu ca announce-registry'); when
	// present, every snapshot is signed in its epoch and carries it.
	AnnouncementFile = "announcement.pb"
)

// InitDir creates an empty directory in dir.
func InitDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, DirectoryFile)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists", path)
	}
	return SaveDirectory(dir, &jiexuv1.Snapshot{})
}

// LoadDirectory reads the editable directory.
func LoadDirectory(dir string) (*jiexuv1.Snapshot, error) {
	data, err := os.ReadFile(filepath.Join(dir, DirectoryFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no registry in %s (create one with 'jiexu registry init --dir %s')", dir, dir)
		}
		return nil, err
	}
	snap := &jiexuv1.Snapshot{}
	if err := protojson.Unmarshal(data, snap); err != nil {
		return nil, fmt.Errorf("%s: %w", DirectoryFile, err)
	}
	return snap, nil
}

// SaveDirectory writes the editable directory atomically.
func SaveDirectory(dir string, snap *jiexuv1.Snapshot) error {
	data, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}.Marshal(snap)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, DirectoryFile), data)
}

// AddNode adds or replaces a node in the directory after checking that the
// result still routes unambiguously. A node that lists former regions
// replaces the nodes registered under them: that is how a region whose code
// changed moves to its new code (see the README, "When a region's code
// changes").
func AddNode(dir string, t *Table, n *jiexuv1.Node) error {
	snap, err := LoadDirectory(dir)
	if err != nil {
		return err
	}
	nodes := slices.DeleteFunc(slices.Clone(snap.Nodes), func(o *jiexuv1.Node) bool {
		return o.GetRegion() == n.GetRegion() || slices.Contains(n.GetFormerRegions(), o.GetRegion())
	})
	nodes = append(nodes, n)
	slices.SortFunc(nodes, func(a, b *jiexuv1.Node) int { return strings.Compare(a.GetRegion(), b.GetRegion()) })
	snap.Nodes = nodes
	if _, err := SnapshotRouter(t, snap); err != nil {
		return err
	}
	return SaveDirectory(dir, snap)
}

// Decide records the registry's choice of successor for a former code whose
// area went to several codes served by different nodes, or with successor
// "" removes it. Cases, records and certificates naming the code are then
// routed to the successor's node.
func Decide(dir string, t *Table, code, successor string) error {
	snap, err := LoadDirectory(dir)
	if err != nil {
		return err
	}
	before := len(snap.SuccessorDecisions)
	ds := slices.DeleteFunc(slices.Clone(snap.SuccessorDecisions), func(d *jiexuv1.SuccessorDecision) bool { return d.GetCode() == code })
	if successor == "" && len(ds) == before {
		return fmt.Errorf("%w: no decision recorded for %s", ErrBadDecision, code)
	}
	if successor != "" {
		ds = append(ds, &jiexuv1.SuccessorDecision{Code: code, Successor: successor})
	}
	slices.SortFunc(ds, func(a, b *jiexuv1.SuccessorDecision) int { return strings.Compare(a.GetCode(), b.GetCode()) })
	snap.SuccessorDecisions = ds
	if _, err := SnapshotRouter(t, snap); err != nil {
		return err
	}
	return SaveDirectory(dir, snap)
}

// RemoveNode removes a region's node from the directory.
func RemoveNode(dir, region string) error {
	snap, err := LoadDirectory(dir)
	if err != nil {
		return err
	}
	before := len(snap.Nodes)
	snap.Nodes = slices.DeleteFunc(snap.Nodes, func(o *jiexuv1.Node) bool { return o.GetRegion() == region })
	if len(snap.Nodes) == before {
		return fmt.Errorf("%w: %s", ErrUnknownNode, region)
	}
	return SaveDirectory(dir, snap)
}

// SignDirectory stamps the directory with the next version, the CA's current
// revocation list, the division table t and an expiry, signs it and writes
// snapshot.pb. Nodes route by the table the snapshot carries. When the
// folder holds an announcement (announcement.pb), the snapshot is signed in
// its epoch and carries it, and only the announced certificate may sign.
func SignDirectory(dir string, t *Table, signer *certs.Signer, crl []byte, ttl time.Duration, now time.Time) (*jiexuv1.SignedSnapshot, error) {
	if ttl <= 0 || ttl > MaxLifetime {
		return nil, fmt.Errorf("ttl: %s must be positive and at most %s (nodes refuse longer-lived snapshots)", ttl, MaxLifetime)
	}
	if list, err := x509.ParseRevocationList(crl); err == nil {
		for _, e := range list.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(signer.Cert.SerialNumber) == 0 {
				return nil, fmt.Errorf("the registry certificate (serial %s) is revoked by the CA's list: nodes would refuse the snapshot; issue a new one (jiexu ca issue --registry) and announce it (jiexu ca announce-registry)", signer.Cert.SerialNumber)
			}
		}
	}
	snap, err := LoadDirectory(dir)
	if err != nil {
		return nil, err
	}
	announcement, err := loadAnnouncement(filepath.Join(dir, AnnouncementFile))
	if err != nil {
		return nil, err
	}
	if _, err := SnapshotRouter(t, snap); err != nil {
		return nil, err
	}
	var epoch uint64
	if announcement != nil {
		var st jiexuv1.RegistryStatement
		if err := proto.Unmarshal(announcement.GetStatement(), &st); err != nil {
			return nil, fmt.Errorf("%s: %w", AnnouncementFile, err)
		}
		if fp := certs.Fingerprint(signer.Cert); st.GetCertificateFingerprint() != fp {
			return nil, fmt.Errorf("%s names registry certificate %s, but this one is %s: sign with the announced certificate (or remove a stale announcement)",
				AnnouncementFile, st.GetCertificateFingerprint(), fp)
		}
		epoch = st.GetEpoch()
	}
	version := snap.GetVersion()
	if prev, err := LoadSigned(filepath.Join(dir, SnapshotFile)); err == nil {
		// The last published version counts when it is of this epoch; a new
		// epoch need not climb over whatever a stolen key published.
		var old jiexuv1.Snapshot
		if proto.Unmarshal(prev.GetSnapshot(), &old) == nil && old.GetRegistryEpoch() == epoch {
			version = max(version, old.GetVersion())
		}
	}
	if version == math.MaxUint64 {
		return nil, fmt.Errorf("version %d cannot grow: if a stolen registry key published it, announce a new registry certificate (jiexu ca announce-registry) to start a new epoch", version)
	}
	version++
	Stamp(snap, version, now, ttl)
	snap.RevocationList = crl
	snap.Divisions = t.Proto()
	snap.RegistryEpoch = epoch
	signed, err := Sign(snap, signer)
	if err != nil {
		return nil, err
	}
	signed.Announcement = announcement
	data, err := proto.Marshal(signed)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(dir, SnapshotFile), data); err != nil {
		return nil, err
	}
	snap.RevocationList, snap.Divisions = nil, nil // the directory file stays readable
	return signed, SaveDirectory(dir, snap)
}

// loadAnnouncement reads an announcement file, nil when there is none.
func loadAnnouncement(path string) (*jiexuv1.RegistryAnnouncement, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a := &jiexuv1.RegistryAnnouncement{}
	if err := proto.Unmarshal(data, a); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// WriteAnnouncement writes a registry announcement file atomically.
func WriteAnnouncement(path string, a *jiexuv1.RegistryAnnouncement) error {
	data, err := proto.Marshal(a)
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

// LoadSigned reads a SignedSnapshot file.
func LoadSigned(path string) (*jiexuv1.SignedSnapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &jiexuv1.SignedSnapshot{}
	if err := proto.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CheckNodeCertificate checks that a node certificate is valid for the
// addresses the node is registered at (host:port; metrics may be empty):
// peers verify the host against the certificate, and would otherwise fail
// at their first delivery with "x509: certificate is valid for …".
func CheckNodeCertificate(cert *x509.Certificate, addrs ...string) error {
	for _, addr := range addrs {
		if addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("address %q: want host:port: %w", addr, err)
		}
		if cert.VerifyHostname(host) != nil {
			names := append([]string(nil), cert.DNSNames...)
			for _, ip := range cert.IPAddresses {
				names = append(names, ip.String())
			}
			valid := "no address at all"
			if len(names) > 0 {
				valid = strings.Join(names, ", ")
			}
			return fmt.Errorf("%w %s: it names %s. Register the node at an address the certificate names, or have the CA sign it again with --host %s",
				ErrAddressNotCertified, addr, valid, host)
		}
	}
	return nil
}

// KindLabel is "insurance" or "ncms", as configs and metric labels write
// an agency's kind.
func KindLabel(k jiexuv1.AgencyKind) string {
	if k == jiexuv1.AgencyKind_AGENCY_KIND_NCMS {
		return "ncms"
	}
	return "insurance"
}

// Target is one entry of a Prometheus file_sd list.
type Target struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// WriteTargets writes Targets(snap) as a file_sd JSON file, atomically, so
// that Prometheus never reads half a list.
func WriteTargets(path string, snap *jiexuv1.Snapshot) error {
	data, err := json.MarshalIndent(Targets(snap), "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(data, '\n'))
}

// Targets lists the metrics endpoints of a snapshot's nodes for Prometheus
// file-based service discovery, labelled with region, kind and agency.
func Targets(snap *jiexuv1.Snapshot) []Target {
	out := []Target{}
	for _, n := range snap.GetNodes() {
		if n.GetMetricsAddress() == "" {
			continue
		}
		out = append(out, Target{Targets: []string{n.GetMetricsAddress()}, Labels: map[string]string{
			"region": n.GetRegion(), "kind": KindLabel(n.GetKind()), "agency": n.GetAgencyName(),
		}})
	}
	return out
}
