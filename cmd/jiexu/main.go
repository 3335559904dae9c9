// Command jiexu is the one binary of the jiexu network: the national CA and
// registry, an agency's node, and the operator's tools. It only parses flags
// and calls the package that owns the work.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"jiexu/node"
	"jiexu/node/render"
)

// command is one subcommand: its usage line and what it runs.
type command struct {
	usage string
	run   func(ctx context.Context, args []string) error
}

// commands is filled in init: the run functions refer back to it for usage.
var commands map[string]command

func init() {
	commands = map[string]command{
		"demo":               {"demo [--keep] [--dir DIR] [--regions A,B,…] [--per-pair N]   run a local network and a batch of transfers", runDemo},
		"devnet init":        {"devnet init --dir DIR [--regions A,B,…] [--ncms A,…] [--people N]   write a local network to run as separate processes", runDevnetInit},
		"ca init":            {"ca init --dir DIR [--name NAME]   create the national root CA", runCAInit},
		"ca issue":           {"ca issue --ca DIR --region CODE --name AGENCY --out DIR [--host H]… [--registry]   issue a node (or registry) certificate", runCAIssue},
		"ca csr":             {"ca csr --region CODE --name AGENCY --out DIR   make a key and a signing request on the node's machine", runCACSR},
		"ca sign":            {"ca sign --ca DIR --csr FILE --out DIR [--host H]…   sign a node's request", runCASign},
		"ca revoke":          {"ca revoke --ca DIR (--serial N | --cert FILE)…   revoke certificates and write a new signed CRL", runCARevoke},
		"registry init":      {"registry init --dir DIR   create an empty directory of nodes", runRegistryInit},
		"registry add":       {"registry add --dir DIR --region CODE --name AGENCY --address HOST:PORT [--kind insurance|ncms] [--cert FILE] [--serves A,B]   add or replace a node", runRegistryAdd},
		"registry remove":    {"registry remove --dir DIR --region CODE   remove a node", runRegistryRemove},
		"registry sign":      {"registry sign --dir DIR --ca CADIR --tls DIR [--ttl 720h]   sign a new snapshot version", runRegistrySign},
		"registry show":      {"registry show --dir DIR   print the signed snapshot (verified against the CA in --tls or --ca-file)", runRegistryShow},
		"registry resolve":   {"registry resolve --dir DIR CODE   which node serves a division code", runRegistryResolve},
		"registry serve":     {"registry serve --dir DIR --listen HOST:PORT --tls DIR   serve snapshots over mutual TLS", runRegistryServe},
		"registry targets":   {"registry targets --dir DIR [--out FILE]   write a Prometheus file_sd list of node metrics targets", runRegistryTargets},
		"node serve":         {"node serve --config FILE   run a node", runNodeServe},
		"node status":        {"node status --config FILE   one screen: region, registry, certificate, peers, queues, cases", runNodeStatus},
		"records import":     {"records import --config FILE [--skip-bad] FILE.csv   import enrolment records (all or nothing)", runRecordsImport},
		"records put":        {"records put --config FILE --id ID --name NAME --scheme employee|resident|ncms [--from YYYY-MM] [--division CODE] …   enrol one person here", runRecordsPut},
		"records list":       {"records list --config FILE   list enrolments, one line a person (ID numbers masked)", runRecordsList},
		"records show":       {"records show --config FILE --id ID   one person's enrolment periods here", runRecordsShow},
		"records suspend":    {"records suspend --config FILE --id ID --last-month YYYY-MM [--on YYYY-MM-DD] [--confirm-waiting]   suspend (中止参保) and issue the certificate", runRecordsSuspend},
		"records resume":     {"records resume --config FILE --id ID [--reason TEXT]   cancel a suspension no transfer used (恢复参保); its certificate becomes void", runRecordsResume},
		"transfer withdraw":  {"transfer withdraw --config FILE CASE_ID [--detail TEXT]   the applicant withdraws (撤销) an application the origin has not acted on", runTransferWithdraw},
		"transfer confirm":   {"transfer confirm --config FILE CASE_ID   confirm a case waiting here for the applicant's certificate (origin)", runTransferConfirm},
		"transfer refuse":    {"transfer refuse --config FILE CASE_ID --reason not_suspended|not_enrolled|identity_mismatch|already_transferred|other [--detail TEXT]   refuse a case waiting here (origin)", runTransferRefuse},
		"cert register":      {"cert register --config FILE NUMBER --id ID --code XXXX-XXXX-XXXX [--issuer CODE]   register a paper certificate the person brought (destination)", runCertRegister},
		"transfer apply":     {"transfer apply --config FILE --id ID --name NAME --origin CODE [--certificate N --code C | --card N]   open a case at this (destination) node", runTransferApply},
		"transfer apply-out": {"transfer apply-out --config FILE --id ID --name NAME --destination CODE   open a case at this (origin) node; the destination confirms", runTransferApplyOut},
		"transfer status":    {"transfer status --config FILE CASE_ID   one case with the time of each step", runTransferStatus},
		"transfer list":      {"transfer list --config FILE [--side destination|origin] [--state S]   list cases", runTransferList},
		"cert show":          {"cert show --config FILE NUMBER [--out FILE.pb] [--html FILE.html]   print, export, or render a certificate for printing", runCertShow},
		"cert reissue":       {"cert reissue --config FILE NUMBER --id ID   re-issue a lost certificate (补办) at the issuing node", runCertReissue},
		"cert check":         {"cert check --config FILE NUMBER --id ID [--issuer CODE]   fetch the issuer's record to check a paper copy", runCertCheck},
		"node backup":        {"node backup --config FILE --out FILE   online, consistent copy of the node's store", runNodeBackup},
		"node verify-backup": {"node verify-backup [--ca CA.pem] FILE   check a backup file", runNodeVerifyBackup},
		"outbox show":        {"outbox show --config FILE SEQ   one pending message or dead letter in full", runOutboxShow},
		"cert verify":        {"cert verify --ca CA.pem FILE.pb   check an exported certificate offline", runCertVerify},
		"outbox list":        {"outbox list --config FILE [--peer CODE]   pending messages", runOutboxList},
		"outbox redrive":     {"outbox redrive --config FILE [SEQ]…   move dead letters (all, or the given ones) back to the outbox", runOutboxRedrive},
		"deadletters":        {"deadletters --config FILE [--peer CODE]   dead letters", runDeadLetters},
		"version":            {"version   print the version", func(context.Context, []string) error { fmt.Println("jiexu", node.Version); return nil }},
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: jiexu COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := commands[n].usage
		if i := strings.Index(u, "   "); i >= 0 {
			fmt.Fprintf(os.Stderr, "  %-18s %s\n", n, strings.TrimSpace(u[i:]))
		}
	}
	fmt.Fprintln(os.Stderr, "\n'jiexu COMMAND --help' shows a command's flags. Start with 'jiexu demo'.")
}

// find picks the longest command name that prefixes args.
func find(args []string) (command, []string, bool) {
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c, args[2:], true
		}
	}
	if len(args) >= 1 {
		if c, ok := commands[args[0]]; ok {
			return c, args[1:], true
		}
	}
	return command{}, nil, false
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		os.Exit(2)
	}
	cmd, rest, ok := find(args)
	if !ok {
		fmt.Fprintf(os.Stderr, "jiexu: unknown command %q\n\n", strings.Join(args[:min(2, len(args))], " "))
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "jiexu:", render.DescribeError(err))
		os.Exit(1)
	}
}
