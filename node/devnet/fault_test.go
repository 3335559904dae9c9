package devnet_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"

	"jiexu/gateway/faultproxy"
	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/render"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// routeThroughProxy puts a fault proxy in front of region's node and makes
// every other running node route to it.
func (tn *testNet) routeThroughProxy(region string) *faultproxy.Proxy {
	tn.t.Helper()
	p, err := faultproxy.New(tn.Node(region).Addrs().Listen)
	if err != nil {
		tn.t.Fatal(err)
	}
	tn.t.Cleanup(func() { p.Close() })
	if err := devnet.RouteVia(tn.Layout, map[string]string{region: p.Addr()}, time.Now()); err != nil {
		tn.t.Fatal(err)
	}
	signed, err := registry.LoadSigned(filepath.Join(tn.Layout.RegistryDir, registry.SnapshotFile))
	if err != nil {
		tn.t.Fatal(err)
	}
	for _, nl := range tn.Layout.Nodes {
		if n := tn.Node(nl.Region); n != nil {
			if _, err := n.Gateway().Directory().Install(signed); err != nil {
				tn.t.Fatal(err)
			}
		}
	}
	return p
}

func (tn *testNet) outbox(region string, dead bool) []*jiexuv1.OutboxMessage {
	tn.t.Helper()
	resp, err := tn.Clients[region].ListOutbox(context.Background(), &jiexuv1.ListOutboxRequest{Dead: dead})
	if err != nil {
		tn.t.Fatal(err)
	}
	return resp.GetMessages()
}

// waitUntil polls cond (bounded).
func (tn *testNet) waitUntil(bound time.Duration, cond func() bool, what func() string) {
	tn.t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			tn.t.Fatalf("after %s: %s", bound, what())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func describeOutbox(ms []*jiexuv1.OutboxMessage) string {
	var b strings.Builder
	render.FormatOutbox(&b, ms, time.Now())
	return b.String()
}

// Finding 1 of the fault report: the origin's link is black-holed (packets
// vanish, no reset), transfers queue at the destination, the link heals.
// Before, the destination's messages sat at DeadlineExceeded for as long
// as it ran; now they drain once the link is back.
func TestBlackHoledPeerDrainsAfterHeal(t *testing.T) {
	tn := startNet(t, devnet.Options{CallTimeout: 500 * time.Millisecond}, hohhot, hulunbuir)
	proxy := tn.routeThroughProxy(hohhot)
	people := tn.people(hohhot)
	warm := tn.move(people[0], hohhot, hohhot, hulunbuir)
	tn.waitState(hulunbuir, warm.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)

	proxy.Set(faultproxy.Both(faultproxy.BlackHole))
	var ids []string
	for _, p := range people[1:5] {
		ids = append(ids, tn.move(p, hohhot, hohhot, hulunbuir).GetCaseId())
	}
	tn.waitUntil(30*time.Second, func() bool {
		ms := tn.outbox(hulunbuir, false)
		return len(ms) > 0 && ms[0].GetAttempts() >= 2 && ms[0].GetLastCode() == codes.DeadlineExceeded.String()
	}, func() string {
		return "no timeouts during the black hole:\n" + describeOutbox(tn.outbox(hulunbuir, false))
	})
	proxy.Heal()
	for _, id := range ids {
		tn.waitUntil(60*time.Second, func() bool {
			return tn.getCase(hulunbuir, id).GetState() == jiexuv1.CaseState_CASE_STATE_COMPLETED
		}, func() string {
			return "case " + id + " did not complete after the link healed; queued:\n" + describeOutbox(tn.outbox(hulunbuir, false))
		})
		tn.waitState(hohhot, id, jiexuv1.CaseState_CASE_STATE_CLOSED)
	}
}

// Finding 2: a node whose store cannot be written reports NOT_SERVING
// with the reason, SERVING again when it can, and its peers get a code and
// a generic message, never the store's path.
func TestHealthFollowsTheStore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes the store file immutable with chattr, which needs root")
	}
	tn := startNet(t, devnet.Options{CallTimeout: time.Second}, hohhot, hulunbuir)
	dbFile := filepath.Join(layoutOf(t, tn.Layout, hohhot).Dir, "data", node.DBFile)
	if out, err := exec.Command("chattr", "+i", dbFile).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s (the filesystem may not support it)", err, out)
	}
	defer exec.Command("chattr", "-i", dbFile).Run()
	if got := tn.Node(hohhot).Health(); !strings.HasPrefix(got, "store not writable: store file not writable") {
		t.Fatalf("Health() with an immutable store = %q, want the store named as not writable", got)
	}
	// The origin's store refuses the notification: the destination sees
	// Unavailable with a generic message.
	p := tn.people(hohhot)[0]
	if _, err := tn.Clients[hohhot].SuspendEnrolment(context.Background(), &jiexuv1.SuspendEnrolmentRequest{
		IdNumber: p.GetPerson().GetIdNumber(), LastMonth: lastMonth()}); err == nil {
		t.Fatal("a suspension committed to an immutable store")
	}
	c := tn.enrolAndApply(p, hohhot, hulunbuir)
	tn.waitUntil(30*time.Second, func() bool {
		ms := tn.outbox(hulunbuir, false)
		return len(ms) > 0 && ms[0].GetLastCode() == codes.Unavailable.String()
	}, func() string {
		return "the peer never answered Unavailable:\n" + describeOutbox(tn.outbox(hulunbuir, false))
	})
	for _, m := range tn.outbox(hulunbuir, false) {
		if strings.Contains(m.GetLastError(), tn.Layout.Dir) || strings.Contains(m.GetLastError(), "jiexu.db") {
			t.Errorf("the peer learnt a local path: %q", m.GetLastError())
		}
	}
	if out, err := exec.Command("chattr", "-i", dbFile).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v %s", err, out)
	}
	if got := tn.Node(hohhot).Health(); got != "" {
		t.Fatalf("Health() after the store is writable again = %q, want healthy", got)
	}
	// Delivered once the store is writable: the origin waits for its own
	// suspension of the person.
	tn.waitState(hulunbuir, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_NOTIFIED)
}

// A node pointed at another node's data_dir is refused: the registry knows
// the two regions as different nodes (a node whose code changed keeps its
// store, TestNodeMovesToANewCode).
func TestAnotherNodesStoreIsRefused(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	tn.StopNode(hohhot)
	tn.StopNode(hulunbuir)
	nl := layoutOf(t, tn.Layout, hulunbuir)
	cfg, err := node.LoadConfig(nl.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = filepath.Join(layoutOf(t, tn.Layout, hohhot).Dir, "data")
	if err := node.WriteConfig(nl.ConfigFile, cfg); err != nil {
		t.Fatal(err)
	}
	if err := tn.StartNode(hulunbuir); err == nil || !strings.Contains(err.Error(), "different nodes") {
		t.Fatalf("StartNode on 150100's data_dir = %v, want a refusal naming the two nodes", err)
	}
}

// A record that no longer decodes (bytes damaged inside a value, where the
// page tree stays sound) is found when the node starts, not by the peer
// whose message needs it.
func TestDamagedRecordIsFoundAtStart(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	tn.StopNode(hohhot)
	path := filepath.Join(layoutOf(t, tn.Layout, hohhot).Dir, "data", node.DBFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	id := tn.people(hohhot)[0].GetPerson().GetIdNumber()
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("node.enrolments")).Put([]byte(id), []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	err = tn.StartNode(hohhot)
	if err == nil || !strings.Contains(err.Error(), "damaged record") || !strings.Contains(err.Error(), "jiexu node restore") {
		t.Fatalf("StartNode with a damaged record = %v, want a refusal that says to restore", err)
	}
}
