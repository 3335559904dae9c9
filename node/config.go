package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// Duration is a time.Duration written as "90s" or "72h" in the config file.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "90s", "72h" and the like.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &badValueError{value: string(b), err: errors.New(`a duration must be a string like "90s", "5m" or "72h"`)}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &badValueError{value: string(b), err: errors.New(`not a duration: write it like "90s", "5m" or "72h"`)}
	}
	*d = Duration(v)
	return nil
}

// Contact is the contact block printed on certificates.
type Contact struct {
	Address       string `json:"address"`
	Postcode      string `json:"postcode"`
	Phone         string `json:"phone"`
	ContactPerson string `json:"contact_person"`
}

// Config is a node's configuration file: JSON with // comments. Relative
// paths are resolved against the file's folder. Every option is documented
// in deploy/node.example.json, which 'jiexu node init' writes the same way.
type Config struct {
	// Region is the pooling-region code this node serves (in its certificate).
	Region string `json:"region"`
	// AgencyName is printed on certificates.
	AgencyName string `json:"agency_name"`
	// Kind is "insurance" (社会（医疗）保险经办机构) or "ncms" (新农合经办机构).
	Kind string `json:"kind"`
	// Contact is printed on certificates.
	Contact Contact `json:"contact"`
	// DataDir holds the bbolt store (jiexu.db).
	DataDir string `json:"data_dir"`
	// Listen is the inter-node mutual-TLS listener, host:port.
	Listen string `json:"listen"`
	// AgencyListen is the local agency API's unix socket, "unix:PATH"; empty
	// means agency.sock in data_dir. The socket is mode 0600 and answers only
	// the node's own user (and root), with the admin role.
	AgencyListen string `json:"agency_listen"`
	// AgencyTLSListen optionally serves the agency API over TCP, host:port,
	// with mutual TLS: the node presents its certificate and callers an
	// operator certificate from operator_ca_dir, whose role (reader, clerk,
	// admin) decides what they may call. Empty disables it.
	AgencyTLSListen string `json:"agency_tls_listen"`
	// OperatorCADir is the node's own operator CA ('jiexu operator init'):
	// ca.pem and crl.pem are read from it (the key need not be there).
	OperatorCADir string `json:"operator_ca_dir"`
	// MetricsListen is the listener for /metrics: HTTPS with the node's
	// certificate, answering the national Prometheus's client certificate
	// only (role monitoring); plain HTTP on a loopback address, for a
	// Prometheus on the same machine; empty disables it.
	MetricsListen string `json:"metrics_listen"`
	// CertFile, KeyFile and CAFile are the node's certificate, key and the national CA.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	CAFile   string `json:"ca_file"`
	// RegistryAddress is host:port of the registry service.
	RegistryAddress string `json:"registry_address"`
	// RegistrySnapshot optionally seeds the store with a signed snapshot file
	// (used when the registry cannot be reached at first start).
	RegistrySnapshot string `json:"registry_snapshot"`
	// RegistryRefresh is how often to ask the registry for a newer snapshot.
	RegistryRefresh Duration `json:"registry_refresh"`
	// DivisionsDir optionally names a folder with a newer GB/T 2260 table
	// than the embedded one: one mca-YEAR.txt (the table in force) and
	// history.csv. The node uses it until the registry's snapshot carries a
	// table, and then routes, checks and names codes by the registry's.
	DivisionsDir string `json:"divisions_dir"`
	// RetryMin and RetryMax bound the delivery backoff; DeadAfter is the dead-letter horizon.
	RetryMin  Duration `json:"retry_min"`
	RetryMax  Duration `json:"retry_max"`
	DeadAfter Duration `json:"dead_after"`
	// CallTimeout bounds one delivery attempt to a peer.
	CallTimeout Duration `json:"call_timeout"`
	// RefusalGrace is how long a message a peer refuses with a code that may
	// clear by itself (PermissionDenied, Unauthenticated, NotFound) is
	// retried before it becomes a dead letter.
	RefusalGrace Duration `json:"refusal_grace"`
	// StoreMinFreeMiB is the free space (MiB) on data_dir's filesystem below
	// which the node reports NOT_SERVING (disk full): bbolt grows its file in
	// steps of up to 16 MiB.
	StoreMinFreeMiB int `json:"store_min_free_mib"`
	// WaitingPeriodMonths is this region's waiting period before benefits
	// when no rule waives it (0..6 months).
	WaitingPeriodMonths int `json:"waiting_period_months"`
	// CalendarFile optionally names a newer working-day calendar
	// (date,kind,name lines; see node/holidays.csv).
	CalendarFile string `json:"calendar_file"`
	// LogFormat is "json" (default) or "text"; LogLevel "debug", "info", "warn" or "error".
	LogFormat string `json:"log_format"`
	LogLevel  string `json:"log_level"`
	// Limits bound what one caller may ask of the node.
	Limits Limits `json:"limits"`
	// ReconcileAt is the time of day (HH:MM, China Standard Time) at which
	// the node reconciles (对账) with every peer it shares recent cases
	// with; "off" turns the daily run off.
	ReconcileAt string `json:"reconcile_at"`
	// DebugPprof serves Go's profiler (net/http/pprof) under /debug/pprof/
	// on the metrics listener, for 'jiexu bench --profile'. Off in
	// production: a profile shows the node's memory, not only its counters.
	DebugPprof bool `json:"debug_pprof"`
	// BatchSeals seals the messages one group commit enqueues with one
	// signature over their Merkle root, each message carrying its proof
	// (gateway.Config.BatchSeals). Turn it on once every peer runs a
	// version that accepts batch seals; certificates are sealed alone
	// either way.
	BatchSeals bool `json:"batch_seals"`
}

// Limits bound what one caller may ask of the node, on every listener.
// Beyond a rate or concurrency limit a call is ResourceExhausted with a
// retry hint, which a sending node's dispatcher follows.
type Limits struct {
	// PeerRate and PeerBurst are each peer region's calls a second on the
	// inter-node listener (a token bucket).
	PeerRate  float64 `json:"peer_rate"`
	PeerBurst int     `json:"peer_burst"`
	// PeerConcurrency is each peer region's calls in flight; keep it above
	// the senders' window (32).
	PeerConcurrency int `json:"peer_concurrency"`
	// LookupRate and LookupBurst bound each caller's certificate look-ups
	// (a peer's LookupCertificate, an operator's CheckCertificate), which
	// answer with personal data.
	LookupRate  float64 `json:"lookup_rate"`
	LookupBurst int     `json:"lookup_burst"`
	// AgencyRate and AgencyBurst are each operator's agency calls a second.
	AgencyRate  float64 `json:"agency_rate"`
	AgencyBurst int     `json:"agency_burst"`
	// MaxConnections caps the open connections of each listener.
	MaxConnections int `json:"max_connections"`
	// MaxConnectionsPerCaller caps the connections one client certificate
	// (a peer's node certificate, an operator's) holds open on a listener,
	// so that no caller can take every place (see limits.ConnGuard).
	MaxConnectionsPerCaller int `json:"max_connections_per_caller"`
	// MaxStreams caps the calls in flight on one connection.
	MaxStreams int `json:"max_streams"`
}

// DefaultLimits fit a pooling region's traffic with room for a backlog
// draining after an outage.
func DefaultLimits() Limits {
	return Limits{
		PeerRate: 200, PeerBurst: 400, PeerConcurrency: 64,
		LookupRate: 0.2, LookupBurst: 20,
		AgencyRate: 100, AgencyBurst: 200,
		MaxConnections: 1024, MaxConnectionsPerCaller: 16, MaxStreams: 128,
	}
}

func (l Limits) validate() error {
	switch {
	case l.PeerRate <= 0 || l.PeerBurst < 1:
		return errors.New("limits.peer_rate, limits.peer_burst: must be positive")
	case l.PeerConcurrency < 1:
		return errors.New("limits.peer_concurrency: must be at least 1")
	case l.LookupRate <= 0 || l.LookupBurst < 1:
		return errors.New("limits.lookup_rate, limits.lookup_burst: must be positive")
	case l.AgencyRate <= 0 || l.AgencyBurst < 1:
		return errors.New("limits.agency_rate, limits.agency_burst: must be positive")
	case l.MaxConnections < 1:
		return errors.New("limits.max_connections: must be at least 1")
	case l.MaxConnectionsPerCaller < 1:
		return errors.New("limits.max_connections_per_caller: must be at least 1")
	case l.MaxStreams < 1:
		return errors.New("limits.max_streams: must be at least 1")
	}
	return nil
}

// NewConfig returns a Config with defaults.
func NewConfig() Config {
	return Config{
		Kind:                "insurance",
		DataDir:             "data",
		Listen:              "127.0.0.1:7443",
		OperatorCADir:       "operators",
		MetricsListen:       "127.0.0.1:9443",
		CertFile:            "cert.pem",
		KeyFile:             "key.pem",
		CAFile:              "ca.pem",
		RegistryRefresh:     Duration(time.Minute),
		RetryMin:            Duration(200 * time.Millisecond),
		RetryMax:            Duration(time.Minute),
		DeadAfter:           Duration(72 * time.Hour),
		CallTimeout:         Duration(10 * time.Second),
		RefusalGrace:        Duration(time.Hour),
		StoreMinFreeMiB:     64,
		WaitingPeriodMonths: 3,
		LogFormat:           "json",
		LogLevel:            "info",
		Limits:              DefaultLimits(),
		ReconcileAt:         "02:30",
	}
}

// LoadConfig reads a config file over the defaults and resolves relative
// paths against the file's folder.
func LoadConfig(path string) (Config, error) {
	cfg := NewConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w (write one with 'jiexu node init')", err)
	}
	if err := decodeConfig(path, data, &cfg); err != nil {
		return cfg, err
	}
	cfg.Resolve(filepath.Dir(path))
	return cfg, nil
}

// Resolve makes relative paths absolute against base.
func (c *Config) Resolve(base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	for _, p := range []*string{&c.DataDir, &c.CertFile, &c.KeyFile, &c.CAFile, &c.RegistrySnapshot, &c.DivisionsDir, &c.CalendarFile, &c.OperatorCADir} {
		abs(p)
	}
	if rest, ok := strings.CutPrefix(c.AgencyListen, "unix:"); ok && !filepath.IsAbs(rest) {
		c.AgencyListen = "unix:" + filepath.Join(base, rest)
	}
	c.AgencyListen = c.AgencyAddress()
}

// AgencyAddress is the agency API's socket: agency_listen, or agency.sock
// in data_dir when that is empty.
func (c *Config) AgencyAddress() string {
	if c.AgencyListen == "" {
		return "unix:" + filepath.Join(c.DataDir, "agency.sock")
	}
	return c.AgencyListen
}

// AgencyKind returns the kind as the wire enum.
func (c *Config) AgencyKind() jiexuv1.AgencyKind {
	if c.Kind == "ncms" {
		return jiexuv1.AgencyKind_AGENCY_KIND_NCMS
	}
	return jiexuv1.AgencyKind_AGENCY_KIND_INSURANCE
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	if err := registry.CheckCodeSyntax(c.Region); err != nil {
		return fmt.Errorf("region: %q: %w", c.Region, err)
	}
	switch {
	case c.AgencyName == "":
		return errors.New("agency_name: required (printed on certificates)")
	case c.Kind != "insurance" && c.Kind != "ncms":
		return fmt.Errorf("kind: %q must be \"insurance\" or \"ncms\"", c.Kind)
	case c.DataDir == "":
		return errors.New("data_dir: required")
	case c.Listen == "":
		return errors.New("listen: required (host:port of the inter-node listener)")
	case c.CertFile == "" || c.KeyFile == "" || c.CAFile == "":
		return errors.New("cert_file, key_file, ca_file: required")
	case c.RegistryAddress == "" && c.RegistrySnapshot == "":
		return errors.New("registry_address: required (or registry_snapshot to start from a file)")
	case isPlaceholder(c.RegistryAddress):
		return fmt.Errorf("registry_address: %q is the example's placeholder: set the national registry's host:port (the bundle from 'jiexu ca sign' carries it; 'jiexu node init --bundle' writes it)", c.RegistryAddress)
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return errors.New("retry_min, retry_max: need 0 < retry_min <= retry_max")
	case c.DeadAfter <= 0:
		return errors.New("dead_after: must be positive")
	case c.RegistryRefresh <= 0:
		return errors.New("registry_refresh: must be positive")
	case c.CallTimeout <= 0:
		return errors.New("call_timeout: must be positive")
	case c.RefusalGrace < 0:
		return errors.New("refusal_grace: must not be negative")
	case c.StoreMinFreeMiB < 0:
		return errors.New("store_min_free_mib: must not be negative")
	case c.WaitingPeriodMonths < 0 || c.WaitingPeriodMonths > rules.MaxWaitingMonths:
		return fmt.Errorf("waiting_period_months: %d must be 0..%d", c.WaitingPeriodMonths, rules.MaxWaitingMonths)
	case c.LogFormat != "json" && c.LogFormat != "text":
		return fmt.Errorf("log_format: %q must be \"json\" or \"text\"", c.LogFormat)
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if _, _, err := c.reconcileTime(); err != nil {
		return err
	}
	path, ok := strings.CutPrefix(c.AgencyAddress(), "unix:")
	switch {
	case !ok:
		return fmt.Errorf("agency_listen: %q must be unix:PATH; for TCP set agency_tls_listen, which needs operator certificates (jiexu operator init)", c.AgencyListen)
	case path == "" || len(path) > maxSocketPath:
		return fmt.Errorf("agency_listen: socket path %q must be 1..%d bytes long", path, maxSocketPath)
	}
	if c.AgencyTLSListen != "" {
		host, port, err := net.SplitHostPort(c.AgencyTLSListen)
		if err != nil || port == "" {
			return fmt.Errorf("agency_tls_listen: %q must be host:port", c.AgencyTLSListen)
		}
		if host != "" && net.ParseIP(host) == nil {
			return fmt.Errorf("agency_tls_listen: %q: give an IP address to listen on, not a name", c.AgencyTLSListen)
		}
		if c.OperatorCADir == "" {
			return errors.New("operator_ca_dir: required with agency_tls_listen (create it with 'jiexu operator init')")
		}
	}
	return nil
}

// isPlaceholder reports whether addr names a host under the reserved
// .example domain (RFC 2606), as the shipped example config does.
func isPlaceholder(addr string) bool {
	host := addr
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		host = addr[:i]
	}
	return host == "example" || strings.HasSuffix(host, ".example")
}

// maxSocketPath is the longest unix socket path Linux accepts (sun_path
// holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

// isLoopback reports whether a host:port names a loopback IP address. Only
// an IP literal counts: a name such as 127.attacker.example is not one.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WriteConfig writes cfg as indented JSON.
func WriteConfig(path string, cfg Config) error {
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func (c Contact) proto() *jiexuv1.Contact {
	return &jiexuv1.Contact{Address: c.Address, Postcode: c.Postcode, Phone: c.Phone, ContactPerson: c.ContactPerson}
}

// NewLogger returns the slog logger a config asks for, writing to w.
func (c *Config) NewLogger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// LoadCalendar reads a calendar file (date,kind,name lines; # comments).
func LoadCalendar(path string) (*rules.Calendar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := rules.ParseCalendar(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// reconcileTime is reconcile_at as an hour and minute; ok is false when the
// daily reconciliation is off.
func (c *Config) reconcileTime() (at time.Duration, ok bool, err error) {
	if c.ReconcileAt == "off" {
		return 0, false, nil
	}
	t, err := time.Parse("15:04", c.ReconcileAt)
	if err != nil {
		return 0, false, fmt.Errorf("reconcile_at: %q must be a time of day like \"02:30\" (China Standard Time), or \"off\"", c.ReconcileAt)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, true, nil
}
