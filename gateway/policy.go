package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// verdict is what the dispatcher does with a message after a failed attempt.
type verdict int

const (
	// retry backs off and tries again until the dead-letter horizon.
	retry verdict = iota
	// retryGrace backs off and tries again while the refusal is younger
	// than the grace period, then makes the message a dead letter.
	retryGrace
	// deadNow makes the message a dead letter at once: the same sealed
	// bytes will be refused again, and only an operator can change that.
	deadNow
)

func (v verdict) String() string {
	switch v {
	case retry:
		return "retry until the horizon"
	case retryGrace:
		return "retry for the grace period"
	}
	return "dead letter at once"
}

// rule is the delivery policy for one status code, and why.
type rule struct {
	verdict verdict
	why     string
}

// deliveryPolicy decides, per gRPC status code of a failed attempt, whether
// a message is retried or becomes a dead letter. A message is sealed once
// and sent as the same bytes on every attempt, so a refusal that depends on
// the bytes alone is final; one that depends on the peer's state (its
// registry snapshot, the cases it knows) or on the network is not. The
// README's delivery-policy table is this one.
var deliveryPolicy = map[codes.Code]rule{
	codes.Canceled:           {retry, "the call was cancelled (this node or the peer shutting down, or a connection replaced)"},
	codes.Unknown:            {retry, "an error without a code says nothing about being final"},
	codes.InvalidArgument:    {deadNow, "the peer rejects the message's fields; the same sealed bytes will be rejected again"},
	codes.DeadlineExceeded:   {retry, "the peer is slow or the link lost the call; repeated ones replace the connection"},
	codes.NotFound:           {retryGrace, "the peer does not know the case yet: messages may overtake each other, and a peer restored from a backup relearns its cases"},
	codes.AlreadyExists:      {deadNow, "the peer already holds a conflicting case for the person; an operator must decide"},
	codes.PermissionDenied:   {retryGrace, "the peer's registry snapshot may not list this node's renewed certificate or region yet"},
	codes.ResourceExhausted:  {retry, "the peer is overloaded; wait at least as long as its RetryInfo asks"},
	codes.FailedPrecondition: {deadNow, "the peer's rules refuse the message in the case's present state; an operator must act, then redrive it"},
	codes.Aborted:            {retry, "a conflict on the peer that a retry resolves"},
	codes.OutOfRange:         {deadNow, "like InvalidArgument: the same bytes will be refused again"},
	codes.Unimplemented:      {deadNow, "the peer runs a version without this call; redrive after it upgrades"},
	codes.Internal:           {retry, "a fault on the peer that its operator can fix; the horizon bounds the retries"},
	codes.Unavailable:        {retry, "the peer or the link is down, or the peer cannot write its store"},
	codes.DataLoss:           {retry, "the peer's store is damaged; it will be restored"},
	codes.Unauthenticated:    {retryGrace, "the peer may not trust this node's renewed certificate, or hold the CA's newest revocation list, yet"},
}

// maxRetryInfo bounds how long a peer's RetryInfo (limits.RetryAfter) can
// hold a message back.
const maxRetryInfo = time.Hour

// decision is what to do after one failed attempt.
type decision struct {
	verdict verdict
	code    string // the status code, "" when the call did not reach the peer
}

// decide applies the delivery policy to a failed attempt. Failures before a
// call reaches the peer (no route in the snapshot, a connection that cannot
// be made) are retried: a registry refresh may cure them. A message this
// version cannot send at all is dead at once.
func decide(err error) decision {
	if errors.Is(err, errUnsendable) {
		return decision{verdict: deadNow}
	}
	st, ok := status.FromError(err)
	if !ok {
		return decision{verdict: retry}
	}
	d := decision{verdict: retry, code: st.Code().String()}
	if r, ok := deliveryPolicy[st.Code()]; ok {
		d.verdict = r.verdict
	}
	return d
}

// errUnsendable marks a message this node cannot send at all (a method this
// version does not know).
var errUnsendable = errors.New("message cannot be sent")

// deadReason says why a message became a dead letter.
func deadReason(v verdict, d time.Duration, err error) string {
	switch v {
	case deadNow:
		return fmt.Sprintf("refused for good: %v", err)
	case retryGrace:
		return fmt.Sprintf("still refused after the %s grace period: %v", d, err)
	}
	return fmt.Sprintf("still failing at the %s dead-letter horizon: %v", d, err)
}

// deadReasons are the metric labels of dead-letter reasons.
var deadReasons = []string{"refused", "refused_after_grace", "horizon", "ack_failed"}

// deadLabel is the bounded metric label of a dead-letter reason.
func deadLabel(v verdict) string {
	switch v {
	case deadNow:
		return "refused"
	case retryGrace:
		return "refused_after_grace"
	}
	return "horizon"
}

// maxPeerText bounds how much of a peer's error text this node keeps (in an
// outbox message's last_error, a dead letter's reason, a log line, an
// answer to the agency): gRPC lets a status message reach 16 MiB, and a
// hostile or broken peer may send that much on every attempt.
const maxPeerText = 1000

// boundPeerError returns err with the message of its gRPC status cut to
// maxPeerText bytes (on a character boundary), keeping its code and
// details (a RetryInfo is still honoured).
func boundPeerError(err error) error {
	st, ok := status.FromError(err)
	if !ok || err == nil || len(st.Message()) <= maxPeerText {
		return err
	}
	p := st.Proto()
	p.Message = clipText(p.GetMessage(), maxPeerText)
	return status.ErrorProto(p)
}

// clipText cuts s to at most max bytes on a character boundary and says
// how long it was.
func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
