package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/render"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

func runDemo(ctx context.Context, args []string) error {
	fs := flagSet("demo")
	keep := fs.Bool("keep", false, "leave the network running until Ctrl-C")
	dir := fs.String("dir", "", "folder for the network (default: a temporary folder, removed afterwards unless --keep)")
	perPair := fs.Int("per-pair", 3, "people moving from each region to the next")
	regions := listFlag(devnet.DefaultRegions)
	fs.Var(&regions, "regions", "pooling regions, comma-separated")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	return devnet.Demo(ctx, devnet.DemoOptions{Dir: *dir, Regions: regions, PerPair: *perPair, Keep: *keep, Out: os.Stdout})
}

func runDevnetInit(_ context.Context, args []string) error {
	fs := flagSet("devnet init")
	dir := fs.String("dir", "", "folder to write the network into (new or empty)")
	people := fs.Int("people", 20, "synthetic people enrolled at each node")
	var regions, ncms listFlag
	fs.Var(&regions, "regions", "pooling regions, comma-separated (default "+strings.Join(devnet.DefaultRegions, ",")+")")
	fs.Var(&ncms, "ncms", "regions run by NCMS offices (default: county-level ones)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "dir"); err != nil {
		return err
	}
	opts := devnet.Options{Dir: *dir, Regions: regions, People: *people, Seed: uint64(time.Now().UnixNano())}
	if len(ncms) > 0 {
		opts.NCMS = ncms
	}
	l, err := devnet.Init(opts)
	if err != nil {
		return err
	}
	l.Close() // the servers bind the ports themselves
	fmt.Printf("wrote a %d-node network to %s\n\nstart it, each in its own terminal (or append ' &'):\n", len(l.Nodes), l.Dir)
	fmt.Printf("  jiexu registry serve --dir %s --listen %s --tls %s\n", l.RegistryDir, l.RegistryAddr, l.RegistryTLS)
	for _, n := range l.Nodes {
		fmt.Printf("  jiexu node serve --config %s\n", n.ConfigFile)
	}
	fmt.Printf("\nthen load each node's people:\n")
	for _, n := range l.Nodes {
		fmt.Printf("  jiexu records import --config %s %s\n", n.ConfigFile, n.RecordsCSV)
	}
	return nil
}

func runNodeServe(ctx context.Context, args []string) error {
	fs := flagSet("node serve")
	cfgFile := fs.String("config", "", "the node's config file (JSON; see deploy/node.example.json)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "config"); err != nil {
		return err
	}
	cfg, err := node.LoadConfig(*cfgFile)
	if err != nil {
		return err
	}
	n, err := node.New(cfg, node.WithLogger(cfg.NewLogger(os.Stderr)))
	if err != nil {
		return fmt.Errorf("%s: %w", *cfgFile, err)
	}
	return n.Run(ctx)
}

// agencyFlags name the node a command talks to: --config (or JIEXU_CONFIG) or --agency.
type agencyFlags struct {
	config, addr *string
}

func agency(fs *flag.FlagSet) agencyFlags {
	return agencyFlags{
		config: fs.String("config", os.Getenv("JIEXU_CONFIG"), "the node's config file (or set JIEXU_CONFIG)"),
		addr:   fs.String("agency", "", "the node's agency address (unix:PATH or 127.0.0.1:PORT) instead of --config"),
	}
}

// dial connects to the node's agency API.
func (a agencyFlags) dial() (jiexuv1.AgencyServiceClient, func(), error) {
	target := *a.addr
	if target == "" {
		if *a.config == "" {
			return nil, nil, fmt.Errorf("say which node: --config FILE (or JIEXU_CONFIG) or --agency ADDR")
		}
		cfg, err := node.LoadConfig(*a.config)
		if err != nil {
			return nil, nil, err
		}
		target = cfg.AgencyListen
	}
	c, conn, err := node.DialAgency(target)
	if err != nil {
		return nil, nil, err
	}
	return c, func() { conn.Close() }, nil
}

// call runs fn against the node with a bounded context.
func (a agencyFlags) call(ctx context.Context, fn func(context.Context, jiexuv1.AgencyServiceClient) error) error {
	c, done, err := a.dial()
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return fn(ctx, c)
}

func runNodeStatus(ctx context.Context, args []string) error {
	fs := flagSet("node status")
	dial := agency(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		s, err := c.GetStatus(ctx, &jiexuv1.GetStatusRequest{})
		if err != nil {
			return err
		}
		render.FormatStatus(os.Stdout, s, time.Now())
		return nil
	})
}

func runRecordsImport(ctx context.Context, args []string) error {
	fs := flagSet("records import")
	dial := agency(fs)
	skipBad := fs.Bool("skip-bad", false, "import the good rows even when some rows are bad")
	table := tableFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one CSV file"); err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	t, err := table()
	if err != nil {
		return err
	}
	res, err := node.ParseRecordsCSV(f, t, time.Now)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	for _, e := range res.Errors {
		fmt.Fprintf(os.Stderr, "%s:%d: %s: %s\n", pos[0], e.Line, e.Field, e.Msg)
	}
	if res.BadRows > 0 && !*skipBad {
		return fmt.Errorf("%d bad row(s) in %s; nothing imported. Fix them, or pass --skip-bad to import the %d good row(s)", res.BadRows, pos[0], len(res.Records))
	}
	fmt.Fprintf(os.Stderr, "  %d row(s) valid; importing them in one transaction…\n", len(res.Records))
	var done *jiexuv1.ImportRecordsResponse
	err = dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		var err error
		done, err = c.ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: res.Records}, grpc.MaxCallSendMsgSize(node.MaxAgencyMessage))
		return err
	})
	if err != nil {
		return fmt.Errorf("%w; nothing imported", err)
	}
	fmt.Printf("imported %d record(s): %d new period(s), %d updated, %d unchanged, %d suspended with a certificate",
		len(res.Records), done.GetCreated(), done.GetUpdated(), done.GetUnchanged(), done.GetSuspended())
	if res.BadRows > 0 {
		fmt.Printf(", skipped %d bad row(s)", res.BadRows)
	}
	fmt.Println()
	return nil
}

func runRecordsList(ctx context.Context, args []string) error {
	fs := flagSet("records list")
	dial := agency(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		var all []*jiexuv1.Enrolment
		token := ""
		for {
			resp, err := c.ListEnrolments(ctx, &jiexuv1.ListEnrolmentsRequest{PageSize: 1000, PageToken: token})
			if err != nil {
				return err
			}
			all = append(all, resp.GetEnrolments()...)
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		render.FormatEnrolments(os.Stdout, all)
		return nil
	})
}

// runTransferApply opens a case at this node as the destination.
func runTransferApply(ctx context.Context, args []string) error {
	var certificate, code, card *string
	return applyCommand(ctx, args, "transfer apply", "origin", "division code of the origin (county, prefecture or province)",
		func(ctx context.Context, c jiexuv1.AgencyServiceClient, id, name, other string) (*jiexuv1.Case, error) {
			resp, err := c.ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: id, Name: name, OriginDivision: other,
				CertificateNumber: *certificate, VerificationCode: *code, OriginInsuranceNumber: *card})
			return resp.GetCase(), err
		}, func(fs *flag.FlagSet) {
			certificate = fs.String("certificate", "", "the number of the certificate the applicant presents (参保凭证号), so the origin acts at once")
			code = fs.String("code", "", "the certificate's verification code (核验码), XXXX-XXXX-XXXX")
			card = fs.String("card", "", "for an NCMS member: the NCMS card number the origin gave (新农合卡证号)")
		})
}

// runTransferApplyOut opens a case at this node as the origin (2021 rule).
func runTransferApplyOut(ctx context.Context, args []string) error {
	return applyCommand(ctx, args, "transfer apply-out", "destination", "division code of the destination (county, prefecture or province)",
		func(ctx context.Context, c jiexuv1.AgencyServiceClient, id, name, other string) (*jiexuv1.Case, error) {
			resp, err := c.ApplyTransferOut(ctx, &jiexuv1.ApplyTransferOutRequest{IdNumber: id, Name: name, DestinationDivision: other})
			return resp.GetCase(), err
		}, nil)
}

// applyCommand parses an application's flags (--id, --name and the other
// party's division) and prints the case it opened.
func applyCommand(ctx context.Context, args []string, name, otherFlag, otherUsage string,
	apply func(ctx context.Context, c jiexuv1.AgencyServiceClient, id, name, other string) (*jiexuv1.Case, error), more func(*flag.FlagSet)) error {
	fs := flagSet(name)
	dial := agency(fs)
	id := fs.String("id", "", "the person's 18-character ID number")
	person := fs.String("name", "", "the person's name, as on this node's record")
	other := fs.String(otherFlag, "", otherUsage)
	if more != nil {
		more(fs)
	}
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "id", "name", otherFlag); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		cs, err := apply(ctx, c, *id, *person, *other)
		if err != nil {
			return err
		}
		render.FormatCase(os.Stdout, cs)
		return nil
	})
}

func runTransferStatus(ctx context.Context, args []string) error {
	fs := flagSet("transfer status")
	dial := agency(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one case id"); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: pos[0]})
		if err != nil {
			return err
		}
		render.FormatCase(os.Stdout, resp.GetCase())
		return nil
	})
}

func runTransferList(ctx context.Context, args []string) error {
	fs := flagSet("transfer list")
	dial := agency(fs)
	side := fs.String("side", "", "destination or origin")
	state := fs.String("state", "", "only cases in this state, e.g. completed")
	limit := fs.Int("limit", 100, "at most this many, newest first")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	req := &jiexuv1.ListCasesRequest{PageSize: int32(*limit)}
	if *side != "" {
		v, ok := jiexuv1.CaseSide_value["CASE_SIDE_"+strings.ToUpper(*side)]
		if !ok {
			return fmt.Errorf("--side %q must be destination or origin", *side)
		}
		req.Side = jiexuv1.CaseSide(v)
	}
	if *state != "" {
		v, ok := jiexuv1.CaseState_value["CASE_STATE_"+strings.ToUpper(*state)]
		if !ok {
			return fmt.Errorf("--state %q is not a case state (applied, notified, certified, funded, completed, refused, withdrawn, requested, waiting_suspension, certificate_sent, remitted, closed, returned)", *state)
		}
		req.State = jiexuv1.CaseState(v)
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.ListCases(ctx, req)
		if err != nil {
			return err
		}
		render.FormatCases(os.Stdout, resp.GetCases())
		return nil
	})
}

func runCertShow(ctx context.Context, args []string) error {
	fs := flagSet("cert show")
	dial := agency(fs)
	out := fs.String("out", "", "also export the sealed certificate to this file, for 'jiexu cert verify'")
	html := fs.String("html", "", "also write a printable page (three parts, 一式三联) to this file")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one certificate number, e.g. 蒙呼和浩特2026第00001号"); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.GetCertificate(ctx, &jiexuv1.GetCertificateRequest{Number: pos[0]})
		if err != nil {
			return err
		}
		cert := &jiexuv1.Certificate{}
		if err := proto.Unmarshal(resp.GetCertificate().GetCertificate(), cert); err != nil {
			return err
		}
		fmt.Print(render.RenderText(resp.GetCertificate(), cert))
		if v := resp.GetVoidedOn(); v != nil {
			fmt.Printf("VOID since %s: %s\n", render.FmtDate(v), resp.GetVoidReason())
		}
		if *out != "" {
			data, err := proto.Marshal(resp.GetCertificate())
			if err != nil {
				return err
			}
			if err := os.WriteFile(*out, data, 0o644); err != nil {
				return err
			}
			fmt.Printf("exported to %s\n", *out)
		}
		if *html != "" {
			page, err := render.RenderHTML(resp.GetCertificate(), cert)
			if err != nil {
				return err
			}
			if err := os.WriteFile(*html, page, 0o644); err != nil {
				return err
			}
			fmt.Printf("printable page written to %s (open it in a browser and print)\n", *html)
		}
		return nil
	})
}

func runCertVerify(_ context.Context, args []string) error {
	fs := flagSet("cert verify")
	caFile := fs.String("ca", "", "the national CA certificate (ca.pem)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := required(fs, "ca"); err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one exported certificate file"); err != nil {
		return err
	}
	ca, err := certs.LoadCertificate(*caFile)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	sc := &jiexuv1.SealedCertificate{}
	if err := proto.Unmarshal(data, sc); err != nil {
		return fmt.Errorf("%s is not an exported certificate: %w", pos[0], err)
	}
	cert, err := node.VerifyCertificate(sc, ca, nil)
	if err != nil {
		return fmt.Errorf("%s does NOT verify: %w", pos[0], err)
	}
	fmt.Printf("OK: %s was sealed by region %s on %s and has not been altered (verification code %s)\n",
		cert.GetNumber(), cert.GetOriginRegion(), cert.GetIssuedAt().AsTime().In(rules.CST).Format("2006-01-02 15:04"), rules.VerificationCode(sc))
	return nil
}

func listOutbox(ctx context.Context, args []string, name string, dead bool) error {
	fs := flagSet(name)
	dial := agency(fs)
	peer := fs.String("peer", "", "only messages to this region")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.ListOutbox(ctx, &jiexuv1.ListOutboxRequest{Dead: dead, PeerRegion: *peer})
		if err != nil {
			return err
		}
		render.FormatOutbox(os.Stdout, resp.GetMessages(), time.Now())
		return nil
	})
}

func runOutboxList(ctx context.Context, args []string) error {
	return listOutbox(ctx, args, "outbox list", false)
}

func runDeadLetters(ctx context.Context, args []string) error {
	return listOutbox(ctx, args, "deadletters", true)
}

func runOutboxRedrive(ctx context.Context, args []string) error {
	fs := flagSet("outbox redrive")
	dial := agency(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	var seqs []uint64
	for _, p := range pos {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a sequence number (see 'jiexu deadletters')", p)
		}
		seqs = append(seqs, n)
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.RedriveOutbox(ctx, &jiexuv1.RedriveOutboxRequest{Sequences: seqs})
		if err != nil {
			return err
		}
		fmt.Printf("moved %d dead letter(s) back to the outbox\n", resp.GetRedriven())
		return nil
	})
}

func printCertificate(sc *jiexuv1.SealedCertificate) error {
	cert := &jiexuv1.Certificate{}
	if err := proto.Unmarshal(sc.GetCertificate(), cert); err != nil {
		return err
	}
	fmt.Print(render.RenderText(sc, cert))
	return nil
}

func runCertReissue(ctx context.Context, args []string) error {
	fs := flagSet("cert reissue")
	dial := agency(fs)
	id := fs.String("id", "", "the holder's ID number")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := required(fs, "id"); err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one certificate number"); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.ReissueCertificate(ctx, &jiexuv1.ReissueCertificateRequest{Number: pos[0], IdNumber: *id})
		if err != nil {
			return err
		}
		return printCertificate(resp.GetCertificate())
	})
}

func runCertCheck(ctx context.Context, args []string) error {
	fs := flagSet("cert check")
	dial := agency(fs)
	id := fs.String("id", "", "the holder's ID number, as on the paper copy")
	issuer := fs.String("issuer", "", "the issuing region (default: found from the number)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := required(fs, "id"); err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one certificate number"); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.CheckCertificate(ctx, &jiexuv1.CheckCertificateRequest{Number: pos[0], IdNumber: *id, IssuerDivision: *issuer})
		if err != nil {
			return err
		}
		fmt.Printf("the issuer %s holds this certificate (seal verified); compare the paper copy with it:\n", resp.GetIssuerRegion())
		return printCertificate(resp.GetCertificate())
	})
}

func runNodeBackup(ctx context.Context, args []string) error {
	fs := flagSet("node backup")
	dial := agency(fs)
	out := fs.String("out", "", "file to write (must not exist)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "out"); err != nil {
		return err
	}
	c, done, err := dial.dial()
	if err != nil {
		return err
	}
	defer done()
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	stream, err := c.Backup(ctx, &jiexuv1.BackupRequest{})
	if err == nil {
		var n int64
		var last time.Time
		for {
			var chunk *jiexuv1.BackupResponse
			if chunk, err = stream.Recv(); err != nil {
				break
			}
			if _, err = f.Write(chunk.GetChunk()); err != nil {
				break
			}
			n += int64(len(chunk.GetChunk()))
			if time.Since(last) > time.Second {
				fmt.Fprintf(os.Stderr, "  %d KiB…\n", n>>10)
				last = time.Now()
			}
		}
		if err == io.EOF {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		return fmt.Errorf("backup failed, nothing kept: %w", err)
	}
	sum, err := node.VerifyBackup(*out, nil)
	if err != nil {
		return fmt.Errorf("backup written but does not verify: %w", err)
	}
	fmt.Printf("wrote %s: %d people (%d periods), %d cases, %d certificates, %d pending messages, %d dead letters, registry version %d\n",
		*out, sum.Enrolments, sum.Periods, sum.Cases, sum.Certificates, sum.Pending, sum.Dead, sum.RegistryVersion)
	return nil
}

func runNodeVerifyBackup(_ context.Context, args []string) error {
	fs := flagSet("node verify-backup")
	caFile := fs.String("ca", "", "national CA certificate: also verify every certificate's seal")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one backup file"); err != nil {
		return err
	}
	var ca *x509.Certificate
	if *caFile != "" {
		if ca, err = certs.LoadCertificate(*caFile); err != nil {
			return err
		}
	}
	sum, err := node.VerifyBackup(pos[0], ca)
	if err != nil {
		return fmt.Errorf("%s does NOT verify: %w", pos[0], err)
	}
	sealed := ""
	if ca != nil {
		sealed = ", every seal verified"
	}
	fmt.Printf("OK: %s: %d people (%d periods), %d cases, %d certificates%s, %d pending messages, %d dead letters, registry version %d\n",
		pos[0], sum.Enrolments, sum.Periods, sum.Cases, sum.Certificates, sealed, sum.Pending, sum.Dead, sum.RegistryVersion)
	return nil
}

func runOutboxShow(ctx context.Context, args []string) error {
	fs := flagSet("outbox show")
	dial := agency(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one sequence number (see 'jiexu outbox list')"); err != nil {
		return err
	}
	seq, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a sequence number", pos[0])
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		for _, dead := range []bool{false, true} {
			resp, err := c.ListOutbox(ctx, &jiexuv1.ListOutboxRequest{Dead: dead})
			if err != nil {
				return err
			}
			for _, m := range resp.GetMessages() {
				if m.GetSequence() == seq {
					render.FormatOutboxMessage(os.Stdout, m, time.Now())
					return nil
				}
			}
		}
		return fmt.Errorf("no pending message or dead letter %d (see 'jiexu outbox list' and 'jiexu deadletters')", seq)
	})
}

func runRecordsPut(ctx context.Context, args []string) error {
	fs := flagSet("records put")
	dial := agency(fs)
	id := fs.String("id", "", "18-character ID number")
	name := fs.String("name", "", "name")
	scheme := fs.String("scheme", "", "employee, resident or ncms")
	division := fs.String("division", "", "division code where the person is enrolled (default: this node's region)")
	from := fs.String("from", time.Now().In(rules.CST).Format("2006-01"), "enrolled from, YYYY-MM")
	months := fs.Int("months", 0, "months actually paid")
	balance := fs.String("balance", "0", "personal-account balance in yuan, e.g. 1024.00")
	household := fs.String("household", "non-agricultural", "agricultural or non-agricultural")
	place := fs.String("place", "", "household registration place (户籍所在地)")
	insurance := fs.String("insurance-number", "", "local medical-insurance number, where used")
	headName := fs.String("head-name", "", "NCMS household head's name")
	headID := fs.String("head-id", "", "NCMS household head's ID number")
	backPaid := fs.Bool("gap-back-paid", false, "contributions for a gap before --from were back-paid")
	registered := fs.String("registered-on", "", "the day the person registered here, YYYY-MM-DD (default today when --from is this month, else the first day of --from)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "id", "name", "scheme"); err != nil {
		return err
	}
	sc, err := rules.ParseScheme(*scheme)
	if err != nil {
		return fmt.Errorf("--scheme: %w", err)
	}
	ht, err := rules.ParseHouseholdType(*household)
	if err != nil {
		return fmt.Errorf("--household: %w", err)
	}
	ym, err := rules.ParseYearMonth(*from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	fen, err := rules.ParseYuan(*balance)
	if err != nil {
		return fmt.Errorf("--balance: %w", err)
	}
	if *division == "" && *dial.config != "" {
		cfg, err := node.LoadConfig(*dial.config)
		if err != nil {
			return err
		}
		*division = cfg.Region
	}
	regOn, err := parseDate("registered-on", *registered)
	if err != nil {
		return err
	}
	rec := &jiexuv1.Record{
		Person: &jiexuv1.Person{Name: *name, IdNumber: *id, InsuranceNumber: *insurance, HouseholdType: ht, HouseholdPlace: *place,
			HouseholdHeadName: *headName, HouseholdHeadIdNumber: *headID},
		Scheme: sc, Division: *division, EnrolledFrom: ym, MonthsPaid: int32(*months), BalanceFen: fen, GapBackPaid: *backPaid, RegisteredOn: regOn,
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		// A person already active here keeps every figure a flag does not
		// set: 'records put --months 130' changes the months, not the balance.
		if cur, err := c.GetEnrolment(ctx, &jiexuv1.GetEnrolmentRequest{IdNumber: *id}); err == nil {
			ps := cur.GetEnrolment().GetPeriods()
			if last := ps[len(ps)-1]; last.GetStatus() == jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
				rec = mergeRecord(cur.GetEnrolment().GetPerson(), last, rec, set)
			}
		}
		resp, err := c.PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: rec})
		if err != nil {
			return err
		}
		render.FormatEnrolment(os.Stdout, resp.GetEnrolment())
		return nil
	})
}

// mergeRecord starts from the person's active period and person block and
// takes from rec only the fields whose flags were given.
func mergeRecord(person *jiexuv1.Person, p *jiexuv1.Period, rec *jiexuv1.Record, set map[string]bool) *jiexuv1.Record {
	out := &jiexuv1.Record{Person: proto.Clone(person).(*jiexuv1.Person), Scheme: p.GetScheme(), Division: p.GetDivision(),
		EnrolledFrom: p.GetEnrolledFrom(), MonthsPaid: p.GetMonthsPaid(), BalanceFen: p.GetBalanceFen(), GapBackPaid: p.GetGapBackPaid(),
		RegisteredOn: p.GetRegisteredOn()}
	in := rec.GetPerson()
	for name, apply := range map[string]func(){
		"name": func() { out.Person.Name = in.GetName() }, "scheme": func() { out.Scheme = rec.GetScheme() },
		"division": func() { out.Division = rec.GetDivision() }, "from": func() { out.EnrolledFrom = rec.GetEnrolledFrom() },
		"months": func() { out.MonthsPaid = rec.GetMonthsPaid() }, "balance": func() { out.BalanceFen = rec.GetBalanceFen() },
		"household": func() { out.Person.HouseholdType = in.GetHouseholdType() }, "place": func() { out.Person.HouseholdPlace = in.GetHouseholdPlace() },
		"insurance-number": func() { out.Person.InsuranceNumber = in.GetInsuranceNumber() },
		"head-name":        func() { out.Person.HouseholdHeadName = in.GetHouseholdHeadName() },
		"head-id":          func() { out.Person.HouseholdHeadIdNumber = in.GetHouseholdHeadIdNumber() },
		"gap-back-paid":    func() { out.GapBackPaid = rec.GetGapBackPaid() }, "registered-on": func() { out.RegisteredOn = rec.GetRegisteredOn() },
	} {
		if set[name] {
			apply()
		}
	}
	return out
}
