// Package limits bounds what a jiexu gRPC server accepts, in one place for
// every listener:
//
//   - Fields: every string, bytes, repeated and map field of a request is
//     checked against its (jiexu.v1.limits) option (proto/jiexu/v1/options.proto),
//     or a default when it has none, before any handler sees it. A field too
//     long is InvalidArgument naming the field and its bound, never echoing
//     the value.
//   - Callers: a Limiter gives each caller (a region, an operator, a
//     certificate) a token bucket, stricter buckets for chosen methods, and a
//     number of calls in flight. Beyond them a call is ResourceExhausted with
//     a RetryInfo saying when to come back.
//   - Transport: ServerOptions caps the message size and the concurrent
//     streams of one connection.
//
// Use:
//
//	lim := limits.NewLimiter(limits.Config{Rate: limits.Rate{PerSecond: 200, Burst: 400}, Concurrency: 64, Key: byRegion})
//	srv := grpc.NewServer(append(limits.ServerOptions(1<<20, 64),
//		grpc.ChainUnaryInterceptor(auth, lim.Unary(), limits.UnaryServerInterceptor()))...)
//	lis = netutil.LimitListener(lis, 1024) // and cap the connections
//
// To bound a new field, annotate it:
//
//	string name = 1 [(jiexu.v1.limits) = {max_runes: 50, max_bytes: 200}];
//	repeated Record records = 1 [(jiexu.v1.limits).max_items = 1000000];
package limits
