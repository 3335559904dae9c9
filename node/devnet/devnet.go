package devnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"jiexu/certs"
	"jiexu/node"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// DefaultRegions are 呼和浩特, 呼伦贝尔, 满洲里 (an NCMS office of its own) and 北京.
var DefaultRegions = []string{"150100", "150700", "150781", "110000"}

// Options configures Init.
type Options struct {
	Dir     string
	Regions []string
	// NCMS lists the regions run by NCMS offices; by default every
	// county-level region in Regions.
	NCMS []string
	// People is how many synthetic people each node has enrolled.
	People int
	// Seed makes the synthetic people reproducible.
	Seed uint64
	// RetryMin and RetryMax are written into each node's config.
	RetryMin, RetryMax time.Duration
	// DeadAfter is the dead-letter horizon written into each node's config.
	DeadAfter time.Duration
	// RegistryRefresh is how often nodes ask the registry (default 10s).
	RegistryRefresh time.Duration
	// Limits, if set, replace the nodes' default limits (node.DefaultLimits).
	Limits *node.Limits
	// CallTimeout bounds each delivery attempt (node default when zero).
	CallTimeout time.Duration
	// BatchSeals turns on the nodes' batch_seals.
	BatchSeals bool
	Now        func() time.Time
}

// Layout is where Init put everything.
type Layout struct {
	Dir          string
	CADir        string
	RegistryDir  string
	RegistryTLS  string // folder with the registry's cert.pem, key.pem, ca.pem
	RegistryAddr string
	Nodes        []NodeLayout

	// listeners holds the ports Init bound ("registry", "REGION/listen",
	// "REGION/metrics") until Start serves on them or Close releases them.
	mu        sync.Mutex
	listeners map[string]net.Listener
}

// bind takes a free loopback port and keeps it bound under name.
func (l *Layout) bind(name string) (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.listeners == nil {
		l.listeners = map[string]net.Listener{}
	}
	l.listeners[name] = lis
	return lis.Addr().String(), nil
}

// take hands over a listener Init bound, or nil once it has been used.
func (l *Layout) take(name string) net.Listener {
	l.mu.Lock()
	defer l.mu.Unlock()
	lis := l.listeners[name]
	delete(l.listeners, name)
	return lis
}

// Listener hands over a port Init bound ("registry", "REGION/listen",
// "REGION/metrics"), or nil once it has been taken: a harness that starts
// the servers as processes passes it to them, so that no other socket can
// take the port, not even while a process restarts.
func (l *Layout) Listener(name string) net.Listener { return l.take(name) }

// Close releases the ports Init bound and no server took, so that separate
// processes can bind them.
func (l *Layout) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, lis := range l.listeners {
		lis.Close()
		delete(l.listeners, name)
	}
}

// NodeLayout is one node's folder.
type NodeLayout struct {
	Region     string
	Name       string
	Kind       string
	Dir        string
	ConfigFile string
	RecordsCSV string
	People     []*jiexuv1.Record
}

func agencyName(t *registry.Table, region, kind string) string {
	full, _ := t.FullName(region)
	if kind == "ncms" {
		return full + "新型农村合作医疗管理办公室"
	}
	return full + "医疗保险事业管理局"
}

// Init writes a ready local network into opts.Dir, which must be empty or absent.
func Init(opts Options) (*Layout, error) {
	if opts.Dir == "" {
		return nil, errors.New("dir: required")
	}
	if entries, err := os.ReadDir(opts.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("dir: %s is not empty; choose a new folder", opts.Dir)
	}
	if len(opts.Regions) == 0 {
		opts.Regions = DefaultRegions
	}
	if opts.People == 0 {
		opts.People = 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryMin == 0 {
		opts.RetryMin = 100 * time.Millisecond
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 5 * time.Second
	}
	t := registry.DefaultTable()
	if len(opts.Regions) < 2 {
		return nil, errors.New("regions: a network needs at least two")
	}
	for _, r := range opts.Regions {
		if err := t.CheckPlace(r); err != nil {
			return nil, fmt.Errorf("regions: %w", err)
		}
	}
	if opts.NCMS == nil {
		for _, r := range opts.Regions {
			if d, _ := t.Lookup(r); d.Level == registry.LevelCounty {
				opts.NCMS = append(opts.NCMS, r)
			}
		}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	l := &Layout{Dir: dir, CADir: filepath.Join(dir, "ca"), RegistryDir: filepath.Join(dir, "registry")}
	l.RegistryTLS = filepath.Join(l.RegistryDir, "tls")
	complete := false
	defer func() {
		if !complete {
			l.Close()
		}
	}()
	ca, err := certs.InitCA(l.CADir, "", certs.WithRegionCheck(t.CheckPlace))
	if err != nil {
		return nil, err
	}
	if _, err := ca.Issue(certs.IssueRequest{Role: certs.RoleRegistry, Name: "jiexu registry", Hosts: []string{"127.0.0.1", "localhost"}}, l.RegistryTLS); err != nil {
		return nil, err
	}
	if err := registry.InitDir(l.RegistryDir); err != nil {
		return nil, err
	}
	if l.RegistryAddr, err = l.bind("registry"); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6a6965787521))
	for _, region := range opts.Regions {
		kind := "insurance"
		if slices.Contains(opts.NCMS, region) {
			kind = "ncms"
		}
		nl := NodeLayout{Region: region, Kind: kind, Name: agencyName(t, region, kind), Dir: filepath.Join(dir, "nodes", region)}
		cert, err := ca.Issue(certs.IssueRequest{Role: certs.RoleNode, Region: region, Name: nl.Name, Hosts: []string{"127.0.0.1", "localhost"}}, nl.Dir)
		if err != nil {
			return nil, err
		}
		listen, err := l.bind(region + "/listen")
		if err != nil {
			return nil, err
		}
		metrics, err := l.bind(region + "/metrics")
		if err != nil {
			return nil, err
		}
		cfg := node.NewConfig()
		cfg.Region, cfg.AgencyName, cfg.Kind = region, nl.Name, kind
		full, _ := t.FullName(region)
		cfg.Contact = node.Contact{Address: full + "政务服务中心", Postcode: postcodeFor(region), Phone: "12393", ContactPerson: "经办窗口"}
		cfg.Listen, cfg.MetricsListen = listen, metrics
		cfg.AgencyListen = "" // agency.sock in the data folder
		cfg.RegistryAddress = l.RegistryAddr
		cfg.RegistrySnapshot = filepath.Join("..", "..", "registry", registry.SnapshotFile)
		cfg.RegistryRefresh = node.Duration(10 * time.Second)
		if opts.RegistryRefresh > 0 {
			cfg.RegistryRefresh = node.Duration(opts.RegistryRefresh)
		}
		if opts.Limits != nil {
			cfg.Limits = *opts.Limits
		}
		cfg.BatchSeals = opts.BatchSeals
		cfg.RetryMin, cfg.RetryMax = node.Duration(opts.RetryMin), node.Duration(opts.RetryMax)
		if opts.DeadAfter > 0 {
			cfg.DeadAfter = node.Duration(opts.DeadAfter)
		}
		if opts.CallTimeout > 0 {
			cfg.CallTimeout = node.Duration(opts.CallTimeout)
		}
		cfg.LogFormat = "text"
		nl.ConfigFile = filepath.Join(nl.Dir, "node.json")
		if err := node.WriteConfig(nl.ConfigFile, cfg); err != nil {
			return nil, err
		}
		if err := registry.AddNode(l.RegistryDir, t, &jiexuv1.Node{
			Region: region, AgencyName: nl.Name, Address: listen, MetricsAddress: metrics,
			Kind:                    cfg.AgencyKind(),
			CertificateFingerprints: []string{certs.Fingerprint(cert)},
			Contact:                 &jiexuv1.Contact{Address: cfg.Contact.Address, Postcode: cfg.Contact.Postcode, Phone: cfg.Contact.Phone, ContactPerson: cfg.Contact.ContactPerson},
		}); err != nil {
			return nil, err
		}
		nl.People = SyntheticPeople(rng, t, region, kind, opts.People, opts.Now())
		nl.RecordsCSV = filepath.Join(nl.Dir, "records.csv")
		f, err := os.Create(nl.RecordsCSV)
		if err != nil {
			return nil, err
		}
		err = node.WriteRecordsCSV(f, nl.People)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		l.Nodes = append(l.Nodes, nl)
	}
	if err := SignRegistry(l, opts.Now()); err != nil {
		return nil, err
	}
	complete = true
	return l, nil
}

// SignRegistry signs the devnet's directory with the CA's current
// revocation list, valid for 30 days.
func SignRegistry(l *Layout, now time.Time) error {
	kp, err := certs.LoadKeyPair(filepath.Join(l.RegistryTLS, certs.CertFile), filepath.Join(l.RegistryTLS, certs.KeyFile))
	if err != nil {
		return err
	}
	crl, err := certs.LoadCRL(filepath.Join(l.CADir, certs.CRLFile))
	if err != nil {
		return err
	}
	_, err = registry.SignDirectory(l.RegistryDir, registry.DefaultTable(), kp.Signer(), crl, 30*24*time.Hour, now)
	return err
}

// postcodes are the main postcodes of the default devnet regions; other
// regions get none (printed as —) rather than an invented one.
var postcodes = map[string]string{"150100": "010000", "150200": "014000", "150700": "021000", "150781": "021400", "110000": "100000"}

func postcodeFor(region string) string { return postcodes[region] }

var (
	surnames = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗", "乌", "包", "额尔德尼"}
	given    = []string{"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "巴特尔", "其其格", "建国", "海燕"}
)

// countyUnder picks a county-level code under region (or region itself) as a
// birth-registration address code.
func countyUnder(rng *rand.Rand, t *registry.Table, region string) string {
	prefix := strings.TrimRight(region, "0")
	var cands []string
	for i := 1; i < 100; i++ {
		code := fmt.Sprintf("%s%02d", region[:4], i)
		if strings.HasPrefix(code, prefix) {
			if d, err := t.Lookup(code); err == nil && d.Level == registry.LevelCounty {
				cands = append(cands, code)
			}
		}
	}
	if len(cands) == 0 {
		return region
	}
	return cands[rng.IntN(len(cands))]
}

// SyntheticPeople makes n enrolled people with valid ID numbers.
func SyntheticPeople(rng *rand.Rand, t *registry.Table, region, kind string, n int, now time.Time) []*jiexuv1.Record {
	var out []*jiexuv1.Record
	seen := map[string]bool{}
	for len(out) < n {
		birth := time.Date(1960+rng.IntN(40), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, rules.CST)
		first17 := fmt.Sprintf("%s%s%03d", countyUnder(rng, t, region), birth.Format("20060102"), rng.IntN(999)+1)
		id := first17 + string(rules.IDCheckChar(first17))
		if seen[id] {
			continue
		}
		seen[id] = true
		from := now.AddDate(-1-rng.IntN(15), -rng.IntN(12), 0)
		span := (now.Year()-from.Year())*12 + int(now.Month()) - int(from.Month())
		rec := &jiexuv1.Record{
			Person: &jiexuv1.Person{
				Name:            surnames[rng.IntN(len(surnames))] + given[rng.IntN(len(given))],
				IdNumber:        id,
				InsuranceNumber: fmt.Sprintf("%s%08d", region, len(out)+1),
				HouseholdType:   jiexuv1.HouseholdType_HOUSEHOLD_TYPE_NON_AGRICULTURAL,
				HouseholdPlace:  mustFullName(t, region),
			},
			Scheme:       jiexuv1.Scheme_SCHEME_EMPLOYEE,
			Division:     region,
			EnrolledFrom: &jiexuv1.YearMonth{Year: int32(from.Year()), Month: int32(from.Month())},
			MonthsPaid:   int32(span - rng.IntN(span/4+1)),
			BalanceFen:   int64(rng.IntN(5_000_000)),
			Status:       jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE,
		}
		rec.BenefitsFrom = rec.GetEnrolledFrom() // enrolled with an employer, or long ago: no waiting period
		if len(out)%5 == 4 {
			rec.Scheme = jiexuv1.Scheme_SCHEME_RESIDENT
			rec.BalanceFen = 0 // the resident scheme keeps no personal account
		}
		if kind == "ncms" {
			rec.Scheme = jiexuv1.Scheme_SCHEME_NCMS
			rec.BalanceFen = 0
			rec.Person.HouseholdType = jiexuv1.HouseholdType_HOUSEHOLD_TYPE_AGRICULTURAL
			rec.Person.HouseholdHeadName = rec.Person.Name
			rec.Person.HouseholdHeadIdNumber = id
		}
		out = append(out, rec)
	}
	return out
}

func mustFullName(t *registry.Table, code string) string {
	n, err := t.FullName(code)
	if err != nil {
		return code
	}
	return n
}
