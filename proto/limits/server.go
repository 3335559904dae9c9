package limits

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ServerOptions are the transport limits of a listener: the largest message
// a caller may send, and the concurrent streams on one connection.
func ServerOptions(maxMessage int, maxStreams uint32) []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(maxMessage), grpc.MaxConcurrentStreams(maxStreams)}
}

// UnaryServerInterceptor refuses a request whose fields exceed their
// limits with InvalidArgument, before the handler sees it.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if m, ok := req.(proto.Message); ok {
			if err := Check(m); err != nil {
				return nil, err
			}
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor checks every message a client sends on a stream.
func StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, checkedStream{ss})
	}
}

type checkedStream struct{ grpc.ServerStream }

func (s checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		return Check(pm)
	}
	return nil
}

// Rate is a token bucket: PerSecond tokens a second, at most Burst at once.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Config configures a Limiter.
type Config struct {
	// Rate is each caller's bucket for all its calls; zero means unlimited.
	Rate Rate
	// Methods are stricter buckets per caller for some full method names,
	// taken on top of Rate (look-ups of personal data, say).
	Methods map[string]Rate
	// Concurrency is how many calls one caller may have in flight; zero
	// means unlimited.
	Concurrency int
	// Key names the caller of a call: a region, an operator, a certificate.
	// Calls with an empty key share one bucket.
	Key func(ctx context.Context) string
	// OnLimit, if set, hears of every refused call (for metrics): the
	// method and "rate", "method_rate" or "concurrency".
	OnLimit func(method, reason string)
	// MaxCallers bounds the callers remembered; idle ones are forgotten
	// first. Default 10,000.
	MaxCallers int
}

// Limiter holds each caller's buckets and calls in flight.
type Limiter struct {
	cfg Config

	mu      sync.Mutex // guards callers
	callers map[string]*caller
}

type caller struct {
	all      *rate.Limiter
	methods  map[string]*rate.Limiter
	inflight int
	last     time.Time
}

// NewLimiter returns a Limiter.
func NewLimiter(cfg Config) *Limiter {
	if cfg.MaxCallers <= 0 {
		cfg.MaxCallers = 10000
	}
	return &Limiter{cfg: cfg, callers: map[string]*caller{}}
}

func limiterOf(r Rate) *rate.Limiter {
	if r.PerSecond <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(r.PerSecond), max(r.Burst, 1))
}

// concurrencyRetry is the retry hint when a caller has too many calls in flight.
const concurrencyRetry = 100 * time.Millisecond

// acquire admits a call or returns ResourceExhausted with a retry hint; on
// success the caller must call the returned release.
func (l *Limiter) acquire(ctx context.Context, method string) (func(), error) {
	key := ""
	if l.cfg.Key != nil {
		key = l.cfg.Key(ctx)
	}
	now := time.Now()
	l.mu.Lock()
	c := l.callers[key]
	if c == nil {
		l.prune(now)
		c = &caller{all: limiterOf(l.cfg.Rate), methods: map[string]*rate.Limiter{}}
		l.callers[key] = c
	}
	c.last = now
	if l.cfg.Concurrency > 0 && c.inflight >= l.cfg.Concurrency {
		l.mu.Unlock()
		return nil, l.refuse(method, "concurrency", concurrencyRetry, fmt.Sprintf("%d calls in flight, at most %d", l.cfg.Concurrency, l.cfg.Concurrency))
	}
	var mlim *rate.Limiter
	if r, ok := l.cfg.Methods[method]; ok {
		if mlim = c.methods[method]; mlim == nil {
			mlim = limiterOf(r)
			c.methods[method] = mlim
		}
	}
	all := c.all.ReserveN(now, 1)
	if d := all.DelayFrom(now); !all.OK() || d > 0 {
		all.CancelAt(now)
		l.mu.Unlock()
		return nil, l.refuse(method, "rate", d, fmt.Sprintf("more than %g calls a second", l.cfg.Rate.PerSecond))
	}
	if mlim != nil {
		r := mlim.ReserveN(now, 1)
		if d := r.DelayFrom(now); !r.OK() || d > 0 {
			r.CancelAt(now)
			all.CancelAt(now)
			l.mu.Unlock()
			return nil, l.refuse(method, "method_rate", d, fmt.Sprintf("more than %g calls a second to this method", l.cfg.Methods[method].PerSecond))
		}
	}
	c.inflight++
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			c.inflight--
			l.mu.Unlock()
		})
	}, nil
}

// prune forgets idle callers when too many are remembered. l.mu is held.
func (l *Limiter) prune(now time.Time) {
	if len(l.callers) < l.cfg.MaxCallers {
		return
	}
	for k, c := range l.callers {
		if c.inflight == 0 && now.Sub(c.last) > time.Minute {
			delete(l.callers, k)
		}
	}
	for k, c := range l.callers { // still full: forget any idle one
		if len(l.callers) < l.cfg.MaxCallers {
			break
		}
		if c.inflight == 0 {
			delete(l.callers, k)
		}
	}
}

func (l *Limiter) refuse(method, reason string, retry time.Duration, why string) error {
	if l.cfg.OnLimit != nil {
		l.cfg.OnLimit(method, reason)
	}
	if retry <= 0 {
		retry = time.Second
	}
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("too many calls: %s; retry in %s", why, retry.Round(time.Millisecond)))
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retry)}); err == nil {
		st = d
	}
	return st.Err()
}

// Unary limits unary calls.
func (l *Limiter) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		release, err := l.acquire(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		defer release()
		return handler(ctx, req)
	}
}

// Stream limits streaming calls; a stream counts as one call in flight
// while it lasts.
func (l *Limiter) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		release, err := l.acquire(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		defer release()
		return handler(srv, ss)
	}
}

// RetryAfter returns the retry hint of a ResourceExhausted error, if any.
func RetryAfter(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
