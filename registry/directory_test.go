package registry_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"jiexu/certs/certtest"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// The directory moves a node to its region's new code, records decisions,
// and signs snapshots that carry the table.
func TestDirectoryMovesAndDecides(t *testing.T) {
	tab := registry.DefaultTable()
	dir := t.TempDir()
	if err := registry.InitDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"130402", "130403", "330111"} {
		if err := registry.AddNode(dir, tab, &jiexuv1.Node{Region: r, Address: "127.0.0.1:1"}); err != nil {
			t.Fatal(err)
		}
	}
	// A node moves (the codes only show the mechanics; gateway's
	// TestRegionMovesToItsNewCode has 临安's real move): an operator adds it
	// under the new code with the old one as former region; the old entry goes.
	if err := registry.AddNode(dir, tab, &jiexuv1.Node{Region: "330112", Address: "127.0.0.1:2", FormerRegions: []string{"330111"}}); err != nil {
		t.Fatal(err)
	}
	snap, err := registry.LoadDirectory(dir)
	if err != nil {
		t.Fatal(err)
	}
	var regions []string
	for _, n := range snap.GetNodes() {
		regions = append(regions, n.GetRegion())
	}
	if got := strings.Join(regions, ","); got != "130402,130403,330112" {
		t.Errorf("after the move the directory lists %s, want 130402,130403,330112", got)
	}

	// 130421 邯郸县 was split between 130402 and 130403, which have nodes.
	r, _ := registry.SnapshotRouter(tab, snap)
	if _, err := r.Route("130421"); !errors.Is(err, registry.ErrSplitDivision) {
		t.Fatalf("Route(130421) before a decision = %v, want ErrSplitDivision", err)
	}
	for _, bad := range [][2]string{{"130421", "130404"}, {"130402", "130402"}} {
		if err := registry.Decide(dir, tab, bad[0], bad[1]); !errors.Is(err, registry.ErrBadDecision) {
			t.Errorf("Decide(%s → %s) = %v, want ErrBadDecision", bad[0], bad[1], err)
		}
	}
	if err := registry.Decide(dir, tab, "130421", "130403"); err != nil {
		t.Fatal(err)
	}
	ca := certtest.NewCA(t)
	reg := certtest.Registry(t, ca)
	crl, _ := ca.Revoke(nil)
	signed, err := registry.SignDirectory(dir, tab, reg.Signer, crl, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v, err := registry.VerifySnapshot(signed, ca.Cert, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !tab.SameTable(v.Snapshot.GetDivisions()) {
		t.Errorf("the signed snapshot carries table %q, want %s", v.Snapshot.GetDivisions().GetVersion(), tab.Identity())
	}
	r, err = registry.SnapshotRouter(tab, v.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if rt, err := r.Route("130421"); err != nil || rt.Node.GetRegion() != "130403" || !rt.Decided {
		t.Errorf("Route(130421) after the decision = %v, %v; want node 130403", rt, err)
	}
	t.Logf("snapshot of 3 nodes with the table: %d bytes (the table %d)", len(signed.GetSnapshot()), proto.Size(v.Snapshot.GetDivisions()))
	// The editable directory keeps neither the table nor the CRL.
	data, err := os.ReadFile(filepath.Join(dir, registry.DirectoryFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "divisions") || strings.Contains(string(data), "revocation") {
		t.Errorf("directory.json carries the table or the CRL:\n%.300s", data)
	}
	if err := registry.Decide(dir, tab, "130421", ""); err != nil {
		t.Errorf("removing the decision: %v", err)
	}
	if err := registry.Decide(dir, tab, "130421", ""); !errors.Is(err, registry.ErrBadDecision) {
		t.Errorf("removing it twice: %v, want ErrBadDecision", err)
	}
}
