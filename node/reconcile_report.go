package node

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"jiexu/node/render"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// WriteReconcileReport prints a reconciliation for an operator: what was
// compared, and one line per difference with both sides' states.
func WriteReconcileReport(w io.Writer, r *jiexuv1.ReconcileResponse) {
	fmt.Fprintf(w, "reconciled with %s: %d case(s) compared, %d in flight (a message still queued: not compared), %d difference(s)\n",
		r.GetPeer(), r.GetCompared(), r.GetInFlight(), len(r.GetDifferences()))
	if len(r.GetDifferences()) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tDIFFERENCE\tHERE\tPEER\tDETAIL")
	for _, d := range r.GetDifferences() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.GetCaseId(), differenceLabel(d.GetKind()),
			sideState(d.GetHere()), sideState(d.GetPeer()), d.GetDetail())
	}
	tw.Flush()
}

// differenceLabel is a kind's name without its prefix, lower case.
func differenceLabel(k jiexuv1.DifferenceKind) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k.String(), "DIFFERENCE_KIND_"), "_", " "))
}

// sideState is one side's state, "-" when it holds no record.
func sideState(c *jiexuv1.SharedCase) string {
	if c == nil {
		return "-"
	}
	return render.Label(c.GetSide()) + " " + render.Label(c.GetState())
}
