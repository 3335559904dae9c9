package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/render"
	"jiexu/node/rules"
	"jiexu/node/store"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

func newDemoCmd() *cobra.Command {
	var keep bool
	var dir string
	var perPair int
	var regions []string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "run a local network and a batch of transfers, and report them",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return devnet.Demo(cmd.Context(), devnet.DemoOptions{Dir: dir, Regions: regions, PerPair: perPair, Keep: keep, Out: cmd.OutOrStdout()})
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the network running until Ctrl-C")
	cmd.Flags().StringVar(&dir, "dir", "", "folder for the network (default: a temporary folder, removed afterwards unless --keep)")
	cmd.Flags().IntVar(&perPair, "per-pair", 3, "people moving from each region to the next")
	cmd.Flags().StringSliceVar(&regions, "regions", devnet.DefaultRegions, "pooling regions, comma-separated")
	return cmd
}

func newDevnetCmd() *cobra.Command {
	return group("devnet", "a local network to run as separate processes", newDevnetInitCmd())
}

func newDevnetInitCmd() *cobra.Command {
	var dir string
	var people int
	var regions, ncms []string
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "write a local network (CA, registry, nodes, configs, synthetic people) to run as separate processes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := devnet.Options{Dir: dir, Regions: regions, People: people, Seed: uint64(time.Now().UnixNano())}
			if len(ncms) > 0 {
				opts.NCMS = ncms
			}
			l, err := devnet.Init(opts)
			if err != nil {
				return err
			}
			l.Close() // the servers bind the ports themselves
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote a %d-node network to %s\n\nstart it, each in its own terminal (or append ' &'):\n", len(l.Nodes), l.Dir)
			fmt.Fprintf(w, "  jiexu registry serve --dir %s --listen %s --tls %s\n", l.RegistryDir, l.RegistryAddr, l.RegistryTLS)
			for _, n := range l.Nodes {
				fmt.Fprintf(w, "  jiexu node serve --config %s\n", n.ConfigFile)
			}
			fmt.Fprintf(w, "\nthen load each node's people:\n")
			for _, n := range l.Nodes {
				fmt.Fprintf(w, "  jiexu records import --config %s %s\n", n.ConfigFile, n.RecordsCSV)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "folder to write the network into (new or empty)")
	cmd.Flags().IntVar(&people, "people", 20, "synthetic people enrolled at each node")
	cmd.Flags().StringSliceVar(&regions, "regions", nil, "pooling regions, comma-separated (default "+strings.Join(devnet.DefaultRegions, ",")+")")
	cmd.Flags().StringSliceVar(&ncms, "ncms", nil, "regions run by NCMS offices (default: county-level ones)")
	required(cmd, "dir")
	return cmd
}

func newNodeCmd() *cobra.Command {
	return group("node", "join the network, run a node and look after it: init, serve, status, backups",
		newNodeInitCmd(), newNodeServeCmd(), newNodeStatusCmd(), newNodeBackupCmd(), newNodeVerifyBackupCmd(), newNodeRestoreCmd())
}

// defaultNodeDir is where 'jiexu node init' writes: /etc/jiexu once the
// package has made it, else a folder in the current one.
func defaultNodeDir() string {
	if st, err := os.Stat(node.SystemConfigDir); err == nil && st.IsDir() {
		return node.SystemConfigDir
	}
	return "jiexu-node"
}

func newNodeInitCmd() *cobra.Command {
	var dir, region, name, kind, bundle, registryAddr string
	var opts node.JoinOptions
	cmd := &cobra.Command{
		Use:   "init (--region CODE --name AGENCY --kind KIND | --bundle FILE)",
		Short: "join the network: make the key and request, then install the signed bundle and write node.json",
		Long: `Join the network in two steps, on the node's machine:

  1. jiexu node init --region 150781 --name 满洲里市合作医疗管理办公室 --kind ncms
     makes the node's key (it never leaves this machine) and csr.pem, to send to
     the national CA.
  2. jiexu node init --bundle bundle.pem
     installs the one file the CA sends back (the certificate, the national CA
     and the registry's address) and writes a complete, commented node.json
     from what the certificate says. Nothing is left to edit by hand.

The folder is /etc/jiexu when the package made it (the store then goes to
/var/lib/jiexu and the agency socket to /run/jiexu), else ./jiexu-node.`,
		Args: noArgs,
	}
	table := addTableFlag(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&dir, "dir", defaultNodeDir(), "folder for the key, the request, the certificates and node.json")
	f.StringVar(&region, "region", "", "step 1: the pooling-region code (GB/T 2260) the node serves")
	f.StringVar(&name, "name", "", "step 1: the agency's name, as printed on certificates")
	f.StringVar(&kind, "kind", "", "step 1: insurance (社会（医疗）保险经办机构) or ncms (新型农村合作医疗经办机构)")
	f.StringVar(&bundle, "bundle", "", "step 2: the bundle.pem the national CA sent back")
	f.StringVar(&registryAddr, "registry", "", "step 2: the registry's host:port, when the bundle does not carry it")
	f.StringVar(&opts.DataDir, "data", "", "step 2: folder for the store (default /var/lib/jiexu in the system layout, else DIR/data)")
	f.StringVar(&opts.Listen, "listen", "", "step 2: the inter-node listener (default 0.0.0.0:7443)")
	f.StringVar(&opts.MetricsListen, "metrics-listen", "", "step 2: the /metrics listener (default 0.0.0.0:9443)")
	f.StringVar(&opts.AgencyListen, "agency-listen", "", "step 2: the local agency API's socket, unix:PATH (default agency.sock in the store's folder, or /run/jiexu/agency.sock)")
	f.StringVar(&opts.Contact.Address, "contact-address", "", "step 2: address printed on certificates")
	f.StringVar(&opts.Contact.Postcode, "contact-postcode", "", "step 2: postcode printed on certificates")
	f.StringVar(&opts.Contact.Phone, "contact-phone", "", "step 2: phone printed on certificates")
	f.StringVar(&opts.Contact.ContactPerson, "contact-person", "", "step 2: contact person printed on certificates")
	f.BoolVar(&opts.Force, "force", false, "step 2: write node.json anew even when it exists")
	completeWords(cmd, "kind", certs.KindInsurance, certs.KindNCMS)
	_ = cmd.MarkFlagFilename("bundle", "pem")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		w := cmd.OutOrStdout()
		t, err := table()
		if err != nil {
			return err
		}
		if bundle == "" {
			for _, fl := range []struct{ name, v string }{{"region", region}, {"name", name}, {"kind", kind}} {
				if fl.v == "" {
					return usagef("--%s is required (step 1), or --bundle FILE (step 2)", fl.name)
				}
			}
			if err := t.CheckPlace(region); err != nil {
				return usagef("--region: %v", err)
			}
			if err := certs.CheckKind(kind); err != nil {
				return usagef("--kind: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, certs.KeyFile)); err == nil {
				return fmt.Errorf("%s already holds a key: the request was made (%s). Install the CA's answer with 'jiexu node init --dir %s --bundle FILE', or move %s away to start again",
					dir, filepath.Join(dir, certs.CSRFile), dir, dir)
			}
			if err := certs.CreateCSR(dir, region, name, kind); err != nil {
				return err
			}
			full, _ := t.FullName(region)
			fmt.Fprintf(w, "made the node's key %s (it stays here) and the request %s\n  for %s %s, %s (%s)\n",
				filepath.Join(dir, certs.KeyFile), filepath.Join(dir, certs.CSRFile), region, full, name, kind)
			fmt.Fprintf(w, "\nnext: send %s to the national CA with this machine's address (the IP or DNS\nname peers will reach it at). When bundle.pem comes back, run:\n  jiexu node init --dir %s --bundle bundle.pem\n",
				filepath.Join(dir, certs.CSRFile), dir)
			return nil
		}
		if region != "" || name != "" {
			return usagef("--region and --name are for step 1; with --bundle they come from the certificate")
		}
		opts.Dir, opts.Bundle, opts.Kind, opts.RegistryAddress = dir, bundle, kind, registryAddr
		j, err := node.InstallBundle(opts)
		if err != nil {
			return err
		}
		c := j.Config
		full, _ := t.FullName(c.Region)
		verb := "wrote"
		if j.ConfigKept {
			verb = "kept the existing"
		}
		fmt.Fprintf(w, "installed %s and %s; %s %s\n", filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.CACertFile), verb, j.ConfigFile)
		fmt.Fprintf(w, "  region     %s %s (from the certificate)\n", c.Region, full)
		fmt.Fprintf(w, "  agency     %s (%s)\n", c.AgencyName, c.Kind)
		fmt.Fprintf(w, "  listen     %s; the certificate is valid for %s\n", c.Listen, strings.Join(certHosts(j.Cert), ", "))
		if c.Contact == (node.Contact{}) {
			fmt.Fprintf(w, "  contact    none yet: the certificates (参保凭证) this node issues print the agency's 地址, 邮政编码,\n"+
				"             联系电话 and 联系人; give them with --contact-address, --contact-postcode, --contact-phone and\n"+
				"             --contact-person (with --force), or in %s before the node issues one\n", j.ConfigFile)
		}
		fmt.Fprintf(w, "  registry   %s\n", c.RegistryAddress)
		fmt.Fprintf(w, "  store      %s\n", c.DataDir)
		fmt.Fprintf(w, "  expires    %s\n", j.Cert.NotAfter.In(rules.CST).Format(time.DateOnly))
		fmt.Fprintf(w, "  CA         %s, SHA-256 %s\n             (check this fingerprint with the national level before you start)\n", j.CA.Subject.CommonName, certs.Fingerprint(j.CA))
		if node.IsSystemDir(dir) {
			fmt.Fprintf(w, "\nnext: systemctl enable --now jiexu-node && jiexu node status\n")
		} else {
			fmt.Fprintf(w, "\nnext: jiexu node serve --config %s   (then, elsewhere: jiexu node status --config %s)\n", j.ConfigFile, j.ConfigFile)
		}
		return nil
	}
	return cmd
}

func newNodeServeCmd() *cobra.Command {
	var cfgFile string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "run a node",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(cfgFile)
			if err != nil {
				return err
			}
			// A file-size limit (RLIMIT_FSIZE) must fail a write with EFBIG,
			// which the store reports, not kill the node with SIGXFSZ.
			signal.Ignore(syscall.SIGXFSZ)
			passed, err := inheritedListeners("listen", "metrics_listen")
			if err != nil {
				return err
			}
			opts := []node.Option{node.WithLogger(cfg.NewLogger(cmd.ErrOrStderr())), node.WithConfigFile(cfgFile)}
			if len(passed) > 0 {
				opts = append(opts, node.WithListeners(passed["listen"], passed["metrics_listen"]))
			}
			n, err := node.New(cfg, opts...)
			if err != nil {
				return fmt.Errorf("%s: %w", cfgFile, err)
			}
			return n.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", defaultConfig(), "the node's config file (written by 'jiexu node init'; see deploy/node.example.json)")
	_ = cmd.MarkFlagFilename("config", "json")
	required(cmd, "config")
	return cmd
}

func newNodeStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status --config FILE",
		Short: "one screen: health, region, registry, certificate, peers, queues, cases; exits 1 when NOT_SERVING",
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			s, err := c.GetStatus(ctx, &jiexuv1.GetStatusRequest{})
			if err != nil {
				return err
			}
			if *asJSON {
				if err := printJSON(cmd.OutOrStdout(), s); err != nil {
					return err
				}
			} else {
				render.FormatStatus(cmd.OutOrStdout(), s, time.Now())
			}
			if !s.GetServing() {
				return fmt.Errorf("node %s is NOT_SERVING: %s", s.GetRegion(), s.GetHealthReason())
			}
			return nil
		})
	}
	return cmd
}

func newRecordsCmd() *cobra.Command {
	return group("records", "enrolment records at this node: import, enrol, list, show, suspend, resume",
		newRecordsImportCmd(), newRecordsPutCmd(), newRecordsListCmd(), newRecordsShowCmd(), newRecordsSuspendCmd(), newRecordsResumeCmd(), newRecordsPayHeldCmd())
}

func newRecordsImportCmd() *cobra.Command {
	var skipBad bool
	cmd := &cobra.Command{
		Use:   "import --config FILE FILE.csv",
		Short: "import enrolment records (all or nothing)",
		Args:  exactArgs(1, "one CSV file"),
	}
	dial := addAgencyFlags(cmd)
	table := addTableFlag(cmd.Flags())
	cmd.Flags().BoolVar(&skipBad, "skip-bad", false, "import the good rows even when some rows are bad")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		file := args[0]
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		t, err := table()
		if err != nil {
			return err
		}
		stderr := cmd.ErrOrStderr()
		var size int64
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		reading := render.NewProgress(stderr, "checking "+filepath.Base(file), size, render.Bytes, isTerminal(stderr))
		res, err := node.ParseRecordsCSV(countingReader{r: f, p: reading}, t, time.Now)
		reading.Finish()
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, e := range res.Errors {
			fmt.Fprintf(stderr, "%s:%d: %s: %s\n", file, e.Line, e.Field, e.Msg)
		}
		if res.BadRows > 0 && !skipBad {
			return fmt.Errorf("%d bad row(s) in %s; nothing imported. Fix them, or pass --skip-bad to import the %d good row(s)", res.BadRows, file, len(res.Records))
		}
		importing := render.NewProgress(stderr, fmt.Sprintf("importing %s valid row(s) in one transaction", render.Thousands(int64(len(res.Records)))),
			0, func(int64) string { return "…" }, isTerminal(stderr))
		stop := ticking(importing, time.Second)
		var done *jiexuv1.ImportRecordsResponse
		err = dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			var err error
			done, err = c.ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: res.Records}, grpc.MaxCallSendMsgSize(node.MaxAgencyMessage))
			return err
		})
		stop()
		if err != nil {
			if rows := refusedRows(file, err, res.Lines); rows != nil {
				return rows
			}
			return fmt.Errorf("%w; nothing imported", err)
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "imported %d record(s): %d new period(s), %d updated, %d unchanged, %d suspended with a certificate",
			len(res.Records), done.GetCreated(), done.GetUpdated(), done.GetUnchanged(), done.GetSuspended())
		if res.BadRows > 0 {
			fmt.Fprintf(w, ", skipped %d bad row(s)", res.BadRows)
		}
		fmt.Fprintln(w)
		for _, warning := range done.GetWarnings() {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", lineOf(warning, res.Lines))
		}
		return nil
	}
	return cmd
}

func newRecordsListCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "list --config FILE",
		Short: "list enrolments, one line a person (ID numbers masked), every page",
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many people, in ID-number order (0: all)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			var all []*jiexuv1.Enrolment
			token, more := "", false
			for {
				resp, err := c.ListEnrolments(ctx, &jiexuv1.ListEnrolmentsRequest{PageSize: 1000, PageToken: token})
				if err != nil {
					return err
				}
				all = append(all, resp.GetEnrolments()...)
				token = resp.GetNextPageToken()
				if limit > 0 && len(all) >= limit {
					more = token != "" || len(all) > limit
					all = all[:limit]
					break
				}
				if token == "" {
					break
				}
			}
			if *asJSON {
				return printJSON(cmd.OutOrStdout(), &jiexuv1.ListEnrolmentsResponse{Enrolments: all})
			}
			render.FormatEnrolments(cmd.OutOrStdout(), all)
			if more {
				fmt.Fprintf(cmd.ErrOrStderr(), "showing the first %d; --limit 0 lists everyone, 'jiexu records show --id ID' one person\n", limit)
			}
			return nil
		})
	}
	return cmd
}

func newTransferCmd() *cobra.Command {
	var certificate, code, card string
	apply := newApplyCmd("apply", "origin", "open a case at this (destination) node",
		"division code of the origin (county, prefecture or province)",
		func(ctx context.Context, c jiexuv1.AgencyServiceClient, id, name, other string) (*jiexuv1.Case, error) {
			resp, err := c.ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: id, Name: name, OriginDivision: other,
				CertificateNumber: certificate, VerificationCode: code, OriginInsuranceNumber: card})
			return resp.GetCase(), err
		})
	apply.Use += " [--certificate N --code C | --card N]"
	apply.Flags().StringVar(&certificate, "certificate", "", "the number of the certificate the applicant presents (参保凭证号), so that the origin acts at once")
	apply.Flags().StringVar(&code, "code", "", "the certificate's verification code (核验码), XXXX-XXXX-XXXX")
	apply.Flags().StringVar(&card, "card", "", "for an NCMS member: the NCMS card number the origin gave (新农合卡证号)")
	return group("transfer", "transfer cases: apply, follow, confirm, withdraw, refuse",
		apply,
		newApplyCmd("apply-out", "destination", "open a case at this (origin) node; the destination confirms (2021 rule)",
			"division code of the destination (county, prefecture or province)",
			func(ctx context.Context, c jiexuv1.AgencyServiceClient, id, name, other string) (*jiexuv1.Case, error) {
				resp, err := c.ApplyTransferOut(ctx, &jiexuv1.ApplyTransferOutRequest{IdNumber: id, Name: name, DestinationDivision: other})
				return resp.GetCase(), err
			}),
		newTransferStatusCmd(), newTransferListCmd(), newTransferConfirmCmd(), newTransferWithdrawCmd(), newTransferRefuseCmd())
}

// newApplyCmd makes an application command (--id, --name and the other
// party's division) that prints the case it opened.
func newApplyCmd(use, otherFlag, short, otherUsage string,
	apply func(ctx context.Context, c jiexuv1.AgencyServiceClient, id, name, other string) (*jiexuv1.Case, error)) *cobra.Command {
	var id, person, other string
	cmd := &cobra.Command{
		Use:   use + " --config FILE --id ID --name NAME --" + otherFlag + " CODE",
		Short: short,
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "the person's 18-character ID number")
	cmd.Flags().StringVar(&person, "name", "", "the person's name, as on this node's record")
	cmd.Flags().StringVar(&other, otherFlag, "", otherUsage)
	required(cmd, "id", "name", otherFlag)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			cs, err := apply(ctx, c, id, person, other)
			if err != nil {
				return err
			}
			render.FormatCase(cmd.OutOrStdout(), cs)
			return nil
		})
	}
	return cmd
}

func newTransferStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status --config FILE CASE_ID",
		Short: "one case with the time of each step",
		Args:  exactArgs(1, "one case id"),
	}
	dial := addAgencyFlags(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: args[0]})
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(cmd.OutOrStdout(), resp.GetCase())
			}
			render.FormatCase(cmd.OutOrStdout(), resp.GetCase())
			return nil
		})
	}
	return cmd
}

// caseStates are the names --state accepts.
var caseStates = []string{"applied", "notified", "certified", "funded", "completed", "refused", "withdrawn",
	"requested", "waiting_suspension", "waiting_confirmation", "certificate_sent", "remitted", "closed", "returned"}

func newTransferListCmd() *cobra.Command {
	var side, state string
	var limit int
	cmd := &cobra.Command{
		Use:   "list --config FILE",
		Short: "list cases, newest first",
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.Flags().StringVar(&side, "side", "", "destination or origin")
	cmd.Flags().StringVar(&state, "state", "", "only cases in this state, e.g. completed")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many, newest first (0: all)")
	completeWords(cmd, "side", "destination", "origin")
	completeWords(cmd, "state", caseStates...)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		req := &jiexuv1.ListCasesRequest{PageSize: int32(min(max(limit, 0), 1000))}
		if limit <= 0 {
			req.PageSize = 1000
		}
		if side != "" {
			v, ok := jiexuv1.CaseSide_value["CASE_SIDE_"+strings.ToUpper(side)]
			if !ok {
				return usagef("--side %q must be destination or origin", side)
			}
			req.Side = jiexuv1.CaseSide(v)
		}
		if state != "" {
			v, ok := jiexuv1.CaseState_value["CASE_STATE_"+strings.ToUpper(state)]
			if !ok {
				return usagef("--state %q is not a case state (%s)", state, strings.Join(caseStates, ", "))
			}
			req.State = jiexuv1.CaseState(v)
		}
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			all := &jiexuv1.ListCasesResponse{}
			for {
				resp, err := c.ListCases(ctx, req)
				if err != nil {
					return err
				}
				all.Cases = append(all.Cases, resp.GetCases()...)
				all.NextPageToken = resp.GetNextPageToken()
				if all.NextPageToken == "" || (limit > 0 && len(all.Cases) >= limit) {
					break
				}
				req.PageToken = all.NextPageToken
			}
			if limit > 0 && len(all.Cases) > limit {
				all.Cases = all.Cases[:limit]
			}
			if *asJSON {
				return printJSON(cmd.OutOrStdout(), all)
			}
			render.FormatCases(cmd.OutOrStdout(), all.GetCases())
			if all.NextPageToken != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "showing the newest %d; --limit N for more, --limit 0 for all\n", len(all.Cases))
			}
			return nil
		})
	}
	return cmd
}

func newCertCmd() *cobra.Command {
	return group("cert", "certificates (参保凭证): show, print, verify, re-issue, check and register paper copies",
		newCertShowCmd(), newCertVerifyCmd(), newCertReissueCmd(), newCertCheckCmd(), newCertRegisterCmd())
}

func newCertShowCmd() *cobra.Command {
	var out, html string
	cmd := &cobra.Command{
		Use:   "show --config FILE NUMBER",
		Short: "print, export, or render a certificate for printing",
		Args:  exactArgs(1, "one certificate number, e.g. 蒙呼和浩特2026第00001号"),
	}
	dial := addAgencyFlags(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.Flags().StringVar(&out, "out", "", "also export the sealed certificate to this file, for 'jiexu cert verify'")
	cmd.Flags().StringVar(&html, "html", "", "also write a printable page (three parts, 一式三联) to this file")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		w := cmd.OutOrStdout()
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.GetCertificate(ctx, &jiexuv1.GetCertificateRequest{Number: args[0]})
			if err != nil {
				return err
			}
			cert := &jiexuv1.Certificate{}
			if err := proto.Unmarshal(resp.GetCertificate().GetCertificate(), cert); err != nil {
				return err
			}
			if *asJSON {
				if err := printJSON(w, cert); err != nil {
					return err
				}
			} else {
				fmt.Fprint(w, render.RenderText(resp.GetCertificate(), cert))
				if v := resp.GetVoidedOn(); v != nil {
					fmt.Fprintf(w, "VOID since %s: %s\n", render.FmtDate(v), resp.GetVoidReason())
				}
			}
			// With --json the notes go to standard error, keeping standard output JSON.
			notes := w
			if *asJSON {
				notes = cmd.ErrOrStderr()
			}
			if out != "" {
				data, err := proto.Marshal(resp.GetCertificate())
				if err != nil {
					return err
				}
				if err := node.WritePrivate(out, data); err != nil {
					return err
				}
				fmt.Fprintf(notes, "exported to %s\n", out)
			}
			if html != "" {
				page, err := render.RenderHTML(resp.GetCertificate(), cert)
				if err != nil {
					return err
				}
				if err := node.WritePrivate(html, page); err != nil {
					return err
				}
				fmt.Fprintf(notes, "printable page written to %s (open it in a browser and print)\n", html)
			}
			return nil
		})
	}
	return cmd
}

func newCertVerifyCmd() *cobra.Command {
	var caFile, crlFile, snapFile string
	cmd := &cobra.Command{
		Use:   "verify --ca CA.pem [--crl CRL.pem | --snapshot SNAPSHOT.pb] FILE.pb",
		Short: "check an exported certificate offline, and its sealing key's revocation",
		Long: `Check an exported certificate offline against the national CA: its seal over
its exact bytes and that its amounts and number agree with themselves. With the
CA's revocation list (--crl, or the list inside a signed registry snapshot,
--snapshot), a certificate sealed before its sealing key was revoked is VALID
AT THE TIME (the sealing time being the sealer's own claim), and one sealed
after it is refused.`,
		Args: exactArgs(1, "one exported certificate file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ca, err := certs.LoadCertificate(caFile)
			if err != nil {
				return err
			}
			revoked, err := node.LoadRevocation(ca, crlFile, snapFile)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			sc := &jiexuv1.SealedCertificate{}
			if err := proto.Unmarshal(data, sc); err != nil {
				return fmt.Errorf("%s is not an exported certificate: %w", args[0], err)
			}
			report, err := node.CheckCertificateOffline(sc, ca, revoked)
			if err != nil {
				return fmt.Errorf("%s does NOT verify: %w", args[0], err)
			}
			node.WriteCertificateReport(cmd.OutOrStdout(), report)
			return nil
		},
	}
	cmd.Flags().StringVar(&caFile, "ca", "", "the national CA certificate (ca.pem)")
	cmd.Flags().StringVar(&crlFile, "crl", "", "the CA's revocation list (crl.pem): tell a key revoked after sealing from one revoked before")
	cmd.Flags().StringVar(&snapFile, "snapshot", "", "a signed registry snapshot (snapshot.pb): its revocation list, verified, instead of --crl")
	required(cmd, "ca")
	return cmd
}

func newOutboxCmd() *cobra.Command {
	return group("outbox", "messages waiting for delivery to peers: list, show one, redrive dead letters",
		newListOutboxCmd("list", "pending messages", false), newOutboxShowCmd(), newOutboxRedriveCmd())
}

func newDeadLettersCmd() *cobra.Command {
	return newListOutboxCmd("deadletters", "messages that stopped being retried (see 'jiexu outbox redrive')", true)
}

func newListOutboxCmd(use, short string, dead bool) *cobra.Command {
	var peer string
	cmd := &cobra.Command{
		Use:   use + " --config FILE",
		Short: short,
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.Flags().StringVar(&peer, "peer", "", "only messages to this region")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			all := &jiexuv1.ListOutboxResponse{}
			req := &jiexuv1.ListOutboxRequest{Dead: dead, PeerRegion: peer}
			for { // every page
				resp, err := c.ListOutbox(ctx, req)
				if err != nil {
					return err
				}
				all.Messages = append(all.Messages, resp.GetMessages()...)
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					break
				}
			}
			if *asJSON {
				return printJSON(cmd.OutOrStdout(), all)
			}
			render.FormatOutbox(cmd.OutOrStdout(), all.GetMessages(), time.Now())
			return nil
		})
	}
	return cmd
}

func newOutboxRedriveCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "redrive --config FILE [SEQ]…",
		Short: "move dead letters (all, or the given ones) back to the outbox, and follow their delivery",
		Args:  cobra.ArbitraryArgs,
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "follow the redriven messages' delivery with a progress bar for at most this long (0: do not wait)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var seqs []uint64
		for _, p := range args {
			n, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				return usagef("%q is not a sequence number (see 'jiexu deadletters')", p)
			}
			seqs = append(seqs, n)
		}
		c, done, err := dial.dial()
		if err != nil {
			return err
		}
		defer done()
		ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
		defer cancel()
		// Which messages move: the given ones, or every dead letter.
		dead, err := c.ListOutbox(ctx, &jiexuv1.ListOutboxRequest{Dead: true})
		if err != nil {
			return err
		}
		moving := map[uint64]bool{}
		for _, m := range dead.GetMessages() {
			if len(seqs) == 0 || slices.Contains(seqs, m.GetSequence()) {
				moving[m.GetSequence()] = true
			}
		}
		resp, err := c.RedriveOutbox(ctx, &jiexuv1.RedriveOutboxRequest{Sequences: seqs})
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "moved %d dead letter(s) back to the outbox\n", resp.GetRedriven())
		if wait <= 0 || len(moving) == 0 {
			return nil
		}
		return followDelivery(cmd, c, moving, wait)
	}
	return cmd
}

// followDelivery shows the delivery of the given outbox messages with a
// progress bar, until all are delivered or wait has passed.
func followDelivery(cmd *cobra.Command, c jiexuv1.AgencyServiceClient, seqs map[uint64]bool, wait time.Duration) error {
	stderr := cmd.ErrOrStderr()
	total := int64(len(seqs))
	progress := render.NewProgress(stderr, "delivering", total, render.Count("messages"), isTerminal(stderr))
	deadline := time.Now().Add(wait)
	var left []*jiexuv1.OutboxMessage
	for {
		ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
		pending, err := c.ListOutbox(ctx, &jiexuv1.ListOutboxRequest{})
		var dead *jiexuv1.ListOutboxResponse
		if err == nil {
			dead, err = c.ListOutbox(ctx, &jiexuv1.ListOutboxRequest{Dead: true})
		}
		cancel()
		if err != nil {
			progress.Finish()
			return err
		}
		left = left[:0]
		for _, m := range append(pending.GetMessages(), dead.GetMessages()...) {
			if seqs[m.GetSequence()] {
				left = append(left, m)
			}
		}
		progress.Set(total - int64(len(left)))
		if len(left) == 0 || time.Now().After(deadline) || cmd.Context().Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	progress.Finish()
	if len(left) == 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "all %d delivered\n", total)
		return nil
	}
	return fmt.Errorf("%d of %d not delivered yet (last error: %s); they stay queued and are retried: follow them with 'jiexu outbox list'",
		len(left), total, render.OrDash(left[0].GetLastError()))
}

func printCertificate(w io.Writer, sc *jiexuv1.SealedCertificate) error {
	cert := &jiexuv1.Certificate{}
	if err := proto.Unmarshal(sc.GetCertificate(), cert); err != nil {
		return err
	}
	fmt.Fprint(w, render.RenderText(sc, cert))
	return nil
}

func newCertReissueCmd() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "reissue --config FILE NUMBER --id ID",
		Short: "re-issue a lost certificate (补办) at the issuing node",
		Args:  exactArgs(1, "one certificate number"),
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "the holder's ID number")
	required(cmd, "id")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.ReissueCertificate(ctx, &jiexuv1.ReissueCertificateRequest{Number: args[0], IdNumber: id})
			if err != nil {
				return err
			}
			return printCertificate(cmd.OutOrStdout(), resp.GetCertificate())
		})
	}
	return cmd
}

func newCertCheckCmd() *cobra.Command {
	var id, issuer, code string
	cmd := &cobra.Command{
		Use:   "check --config FILE NUMBER --id ID --code CODE",
		Short: "fetch the issuer's record to check a paper copy",
		Args:  exactArgs(1, "one certificate number"),
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "the holder's ID number, as on the paper copy")
	cmd.Flags().StringVar(&issuer, "issuer", "", "the issuing region (default: found from the number)")
	cmd.Flags().StringVar(&code, "code", "", "the 核验码 printed on the paper copy (the issuer answers only its holder)")
	required(cmd, "id", "code")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.CheckCertificate(ctx, &jiexuv1.CheckCertificateRequest{Number: args[0], IdNumber: id, IssuerDivision: issuer, VerificationCode: code})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "the issuer %s holds this certificate (seal verified); compare the paper copy with it:\n", resp.GetIssuerRegion())
			return printCertificate(cmd.OutOrStdout(), resp.GetCertificate())
		})
	}
	return cmd
}

func newNodeBackupCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup --config FILE --out FILE",
		Short: "online, consistent copy of the node's store",
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&out, "out", "", "file to write (must not exist)")
	required(cmd, "out")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, done, err := dial.dial()
		if err != nil {
			return err
		}
		defer done()
		// The copy is written beside out and renamed to it only once it is
		// complete, marked and verified: a failure at any step leaves no
		// file that looks like a backup.
		if _, err := os.Lstat(out); err == nil {
			return fmt.Errorf("--out %s exists: choose a new file name (a backup never overwrites one)", out)
		}
		partial := out + ".partial"
		f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("--out: %w (a .partial file left by a failed backup can be removed)", err)
		}
		sum, err := func() (node.BackupSummary, error) {
			var none node.BackupSummary
			// Taken at: before the node began its read, so that nothing
			// it committed after that time can be in the copy.
			began := time.Now()
			err := receiveBackup(cmd, c, f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return none, err
			}
			// Mark the copy as a backup: a node refuses to serve it until
			// 'jiexu node restore' has moved its counters past what the
			// node used since.
			if _, err := store.MarkBackup(partial, began); err != nil {
				return none, fmt.Errorf("could not mark the copy as a backup: %w", err)
			}
			sum, err := node.VerifyBackup(partial, nil)
			if err != nil {
				return none, fmt.Errorf("the copy does not verify: %w", err)
			}
			if err := os.Link(partial, out); err != nil { // fails if out appeared meanwhile
				return none, fmt.Errorf("--out: %w", err)
			}
			return sum, syncDir(filepath.Dir(out))
		}()
		os.Remove(partial)
		if err != nil {
			return fmt.Errorf("backup failed, nothing kept: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d people (%d periods), %d cases, %d certificates, %d pending messages, %d dead letters, registry version %d\n",
			out, sum.Enrolments, sum.Periods, sum.Cases, sum.Certificates, sum.Pending, sum.Dead, sum.RegistryVersion)
		return nil
	}
	return cmd
}

func newNodeVerifyBackupCmd() *cobra.Command {
	var caFile string
	cmd := &cobra.Command{
		Use:   "verify-backup [--ca CA.pem] FILE",
		Short: "check a backup file",
		Args:  exactArgs(1, "one backup file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ca *x509.Certificate
			if caFile != "" {
				var err error
				if ca, err = certs.LoadCertificate(caFile); err != nil {
					return err
				}
			}
			sum, err := node.VerifyBackup(args[0], ca)
			if err != nil {
				return fmt.Errorf("%s does NOT verify: %w", args[0], err)
			}
			sealed := ""
			if ca != nil {
				sealed = ", every seal verified"
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "OK: %s: %d people (%d periods), %d cases, %d certificates%s, %d pending messages, %d dead letters, registry version %d\n",
				args[0], sum.Enrolments, sum.Periods, sum.Cases, sum.Certificates, sealed, sum.Pending, sum.Dead, sum.RegistryVersion)
			if id := sum.Identity; id != nil {
				fmt.Fprintf(w, "    store %s of region %s, epoch %d", id.GetStoreId(), id.GetRegion(), id.GetEpoch())
				if b := id.GetBackup(); b != nil {
					fmt.Fprintf(w, ", backup taken %s", b.GetTakenAt().AsTime().Local().Format(time.RFC3339))
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&caFile, "ca", "", "national CA certificate: also verify every certificate's seal")
	return cmd
}

func newNodeRestoreCmd() *cobra.Command {
	var cfgFile, from string
	var without, withoutPeers bool
	var peerWait time.Duration
	cmd := &cobra.Command{
		Use:   "restore --config FILE --from BACKUP",
		Short: "put a backup in place of a stopped node's store, safely: a new epoch, every counter past what the node used",
		Long: `Put a backup (from 'jiexu node backup') in place of a stopped node's store.

The backup is verified; the store's epoch is advanced past every epoch the node
had, and every counter (certificate serials, case ids, the outbox sequence) is
moved past the highest value the node reserved, so nothing numbered after the
restore can equal anything numbered before, whatever the backup's age. The
store that was in place is kept beside it.

Before the copy is put in place it is rolled forward from the peers: each
node the registry snapshot lists is asked, with this node's certificate, what
it holds of the cases it shares with this region. The case ids and certificate
serials they have seen are never handed out again, and a transfer a
destination completed is closed here, the balance gone, as the lost messages
would have done; a transfer in that an origin completed is completed here
from the certificate the origin sealed (its seal checked as a delivered
one's), the balance credited once. A peer that does not answer is asked
again for --peer-wait (it may be restarting). The report lists what was recovered, what an operator must
decide, and the peers that did not answer, with the 'jiexu reconcile' to run
for each once the node serves again; a peer that is down does not stop the
restore.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return node.Restore(cmd.Context(), node.RestoreOptions{ConfigFile: cfgFile, From: from, WithoutSidecar: without,
				WithoutPeers: withoutPeers, PeerWait: peerWait}, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", defaultConfig(), "the node's config file; the node must be stopped")
	cmd.Flags().StringVar(&from, "from", "", "the backup file to restore")
	cmd.Flags().BoolVar(&without, "without-sidecar", false, "restore although data_dir has no usable sidecar (jiexu.id); serials and case ids then continue from the stores' own counters")
	cmd.Flags().BoolVar(&withoutPeers, "without-peers", false, "do not ask the peers (no network here): the report says what to check, and 'jiexu reconcile' finds it later")
	cmd.Flags().DurationVar(&peerWait, "peer-wait", 30*time.Second, "how long to keep asking a peer that does not answer (a node restarting) before reporting it NOT ASKED")
	_ = cmd.MarkFlagFilename("config", "json")
	required(cmd, "config", "from")
	return cmd
}

func newOutboxShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show --config FILE SEQ",
		Short: "one pending message or dead letter in full",
		Args:  exactArgs(1, "one sequence number (see 'jiexu outbox list')"),
	}
	dial := addAgencyFlags(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		seq, err := strconv.ParseUint(args[0], 10, 64)
		if err != nil || seq == 0 {
			return usagef("%q is not a sequence number", args[0])
		}
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			for _, dead := range []bool{false, true} {
				// The page starting right after seq-1 holds seq if it exists.
				resp, err := c.ListOutbox(ctx, &jiexuv1.ListOutboxRequest{Dead: dead, Limit: 1, PageToken: strconv.FormatUint(seq-1, 10)})
				if err != nil {
					return err
				}
				for _, m := range resp.GetMessages() {
					if m.GetSequence() == seq {
						if *asJSON {
							return printJSON(cmd.OutOrStdout(), m)
						}
						render.FormatOutboxMessage(cmd.OutOrStdout(), m, time.Now())
						return nil
					}
				}
			}
			return fmt.Errorf("no pending message or dead letter %d (see 'jiexu outbox list' and 'jiexu deadletters')", seq)
		})
	}
	return cmd
}

func newRecordsPutCmd() *cobra.Command {
	var id, name, scheme, division, from, balance, household, place, insurance, headName, headID, registered, benefits string
	var months int
	var backPaid bool
	cmd := &cobra.Command{
		Use:   "put --config FILE --id ID --name NAME --scheme employee|resident|ncms",
		Short: "enrol one person here (a new period, or an update of the active one)",
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "18-character ID number")
	f.StringVar(&name, "name", "", "name")
	f.StringVar(&scheme, "scheme", "", "employee, resident or ncms")
	f.StringVar(&division, "division", "", "division code where the person is enrolled (default: this node's region)")
	f.StringVar(&from, "from", time.Now().In(rules.CST).Format("2006-01"), "enrolled from, YYYY-MM")
	f.IntVar(&months, "months", 0, "months actually paid")
	f.StringVar(&balance, "balance", "0", "personal-account balance in yuan, e.g. 1024.00")
	f.StringVar(&household, "household", "non-agricultural", "agricultural or non-agricultural")
	f.StringVar(&place, "place", "", "household registration place (户籍所在地)")
	f.StringVar(&insurance, "insurance-number", "", "local medical-insurance number, where used")
	f.StringVar(&headName, "head-name", "", "NCMS household head's name")
	f.StringVar(&headID, "head-id", "", "NCMS household head's ID number")
	f.BoolVar(&backPaid, "gap-back-paid", false, "contributions for a gap before --from were back-paid")
	f.StringVar(&registered, "registered-on", "", "the day the person registered here, YYYY-MM-DD (default today when --from is this month, else the first day of --from)")
	f.StringVar(&benefits, "benefits-from", "", "first month of benefits (待遇享受起), YYYY-MM, where your system knows it")
	completeWords(cmd, "scheme", "employee", "resident", "ncms")
	completeWords(cmd, "household", "agricultural", "non-agricultural")
	required(cmd, "id", "name", "scheme")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		sc, err := rules.ParseScheme(scheme)
		if err != nil {
			return usagef("--scheme: %w", err)
		}
		ht, err := rules.ParseHouseholdType(household)
		if err != nil {
			return usagef("--household: %w", err)
		}
		ym, err := rules.ParseYearMonth(from)
		if err != nil {
			return usagef("--from: %w", err)
		}
		fen, err := rules.ParseYuan(balance)
		if err != nil {
			return usagef("--balance: %w", err)
		}
		if division == "" {
			if division, err = dial.region(); err != nil {
				return err
			}
		}
		regOn, err := parseDate("registered-on", registered)
		if err != nil {
			return err
		}
		var benefitsFrom *jiexuv1.YearMonth
		if benefits != "" {
			if benefitsFrom, err = rules.ParseYearMonth(benefits); err != nil {
				return usagef("--benefits-from: %w", err)
			}
		}
		rec := &jiexuv1.Record{
			Person: &jiexuv1.Person{Name: name, IdNumber: id, InsuranceNumber: insurance, HouseholdType: ht, HouseholdPlace: place,
				HouseholdHeadName: headName, HouseholdHeadIdNumber: headID},
			Scheme: sc, Division: division, EnrolledFrom: ym, MonthsPaid: int32(months), BalanceFen: fen, GapBackPaid: backPaid, RegisteredOn: regOn,
			BenefitsFrom: benefitsFrom,
		}
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			// A person already active here keeps every figure a flag does not
			// set: 'records put --months 130' changes the months, not the balance.
			if cur, err := c.GetEnrolment(ctx, &jiexuv1.GetEnrolmentRequest{IdNumber: id}); err == nil {
				ps := cur.GetEnrolment().GetPeriods()
				if last := ps[len(ps)-1]; last.GetStatus() == jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
					rec = mergeRecord(cur.GetEnrolment().GetPerson(), last, rec, cmd.Flags().Changed)
				}
			}
			resp, err := c.PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: rec})
			if err != nil {
				return err
			}
			render.FormatEnrolment(cmd.OutOrStdout(), resp.GetEnrolment())
			for _, w := range resp.GetWarnings() {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			return nil
		})
	}
	return cmd
}

// mergeRecord starts from the person's active period and person block and
// takes from rec only the fields whose flags were given.
func mergeRecord(person *jiexuv1.Person, p *jiexuv1.Period, rec *jiexuv1.Record, changed func(string) bool) *jiexuv1.Record {
	out := &jiexuv1.Record{Person: proto.Clone(person).(*jiexuv1.Person), Scheme: p.GetScheme(), Division: p.GetDivision(),
		EnrolledFrom: p.GetEnrolledFrom(), MonthsPaid: p.GetMonthsPaid(), BalanceFen: p.GetBalanceFen(), GapBackPaid: p.GetGapBackPaid(),
		RegisteredOn: p.GetRegisteredOn(), BenefitsFrom: p.GetBenefitsFrom()}
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
		"benefits-from": func() { out.BenefitsFrom = rec.GetBenefitsFrom() },
	} {
		if changed(name) {
			apply()
		}
	}
	return out
}

// refusedRows words the node's refusal of an import's rows (field
// violations on "records[i]…") by the file's line numbers, or returns nil
// when the error is of another kind.
func refusedRows(file string, err error, lines []int) error {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "the node refused %d row(s) of %s; nothing imported. Fix them (or remove them from the file) and import again:", len(br.GetFieldViolations()), file)
		for _, v := range br.GetFieldViolations() {
			where := v.GetField()
			var i int
			if n, _ := fmt.Sscanf(where, "records[%d]", &i); n == 1 && i >= 0 && i < len(lines) {
				_, field, _ := strings.Cut(where, "]")
				where = fmt.Sprintf("%s:%d", file, lines[i])
				if field = strings.TrimPrefix(field, "."); field != "" {
					where += ": " + field
				}
			}
			fmt.Fprintf(&b, "\n  %s: %s", where, v.GetDescription())
		}
		return errors.New(b.String())
	}
	return nil
}

// lineOf names the file line of an import warning about records[i].
func lineOf(warning string, lines []int) string {
	var i int
	var rest string
	if n, _ := fmt.Sscanf(warning, "records[%d]:", &i); n == 1 && i >= 0 && i < len(lines) {
		_, rest, _ = strings.Cut(warning, ": ")
		return fmt.Sprintf("line %d: %s", lines[i], rest)
	}
	return warning
}

// receiveBackup streams the node's backup into f and syncs it, with a
// progress line.
func receiveBackup(cmd *cobra.Command, c jiexuv1.AgencyServiceClient, f *os.File) error {
	stream, err := c.Backup(cmd.Context(), &jiexuv1.BackupRequest{})
	if err != nil {
		return err
	}
	var progress *render.Progress
	defer func() {
		if progress != nil {
			progress.Finish()
		}
	}()
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return f.Sync()
		}
		if err != nil {
			return err
		}
		if progress == nil {
			// The first message carries the size of the copy.
			stderr := cmd.ErrOrStderr()
			progress = render.NewProgress(stderr, "backup", chunk.GetTotalBytes(), render.Bytes, isTerminal(stderr))
		}
		if _, err := f.Write(chunk.GetChunk()); err != nil {
			return err
		}
		progress.Add(int64(len(chunk.GetChunk())))
	}
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
