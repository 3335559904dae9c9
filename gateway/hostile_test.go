package gateway

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// A hostile peer answers every message with an error text of a mebibyte
// (gRPC lets a status message reach 16 MiB). Before, the dispatcher kept
// the whole text: in every queued message's last_error (rewritten at each
// attempt, 32 messages a batch), in the dead letter's reason, in the log
// line of every attempt, and in the agency's outbox list and node status,
// far beyond the contract's own bound on those fields (8000 bytes), and
// each call of a batch could hold 16 MiB of trailers in memory. Now a
// peer's text is cut to 1000 bytes wherever it is kept, and an answer
// whose trailers exceed 256 KiB fails the attempt (retried, never lost).
func TestHostilePeerErrorTextIsBounded(t *testing.T) {
	f := newFixture(t)
	peer := f.startPeer(t)
	var logMu sync.Mutex
	var logs bytes.Buffer
	g := f.running(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logs}, nil))
	})
	f.route(t, g, peer.addr)
	// Multi-byte text, so that a cut in the middle of a character shows;
	// 40 KB (120 KB percent-encoded on the wire) passes the trailer bound,
	// a mebibyte does not.
	long := "对" + strings.Repeat("方说", 40<<10/6)
	huge := strings.Repeat("方说", 1<<20/6)
	peer.setAnswer(func(caseID string) error {
		if caseID == "case-dead" {
			return status.Error(codes.FailedPrecondition, long)
		}
		return status.Error(codes.Unavailable, huge)
	})
	enqueue(t, g, "case-retry")
	enqueue(t, g, "case-dead")
	var queued, dead []*jiexuv1.OutboxMessage
	waitUntil(t, 20*time.Second, func() bool {
		queued, dead = list(t, g, false), list(t, g, true)
		return len(dead) == 1 && len(queued) == 1 && queued[0].GetAttempts() >= 3
	}, func() string { return "outbox never settled" })

	const bound = 8000 // the contract's max_bytes on last_error and dead_reason
	check := func(what, s string, text bool) {
		t.Helper()
		if len(s) > bound || !utf8.ValidString(s) {
			t.Errorf("%s: %d bytes (valid UTF-8 %v), want at most %d of valid UTF-8", what, len(s), utf8.ValidString(s), bound)
		}
		if text && !strings.Contains(s, "方说") {
			t.Errorf("%s lost the peer's text: %.200q", what, s)
		}
	}
	check("queued last_error", queued[0].GetLastError(), false)
	check("dead letter's last_error", dead[0].GetLastError(), true)
	check("dead letter's reason", dead[0].GetDeadReason(), true)
	if dead[0].GetLastCode() != codes.FailedPrecondition.String() || queued[0].GetCaseId() != "case-retry" {
		t.Errorf("dead letter %s, queued %s; want case-dead refused for good, case-retry still queued", describe(dead), describe(queued))
	}

	logMu.Lock()
	defer logMu.Unlock()
	for i, line := range strings.Split(logs.String(), "\n") {
		if len(line) > 4*bound {
			t.Errorf("log line %d is %d bytes: %.200s…", i, len(line), line)
			break
		}
	}
}
