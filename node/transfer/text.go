package transfer

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// WriteTables writes both tables as text, one row a line: the states, the
// event, the guard, the next state (or "fails"), and what the row means.
// It is the readable form of the state machine (testdata/tables.golden).
func WriteTables(w io.Writer) {
	for _, side := range []jiexuv1.CaseSide{destinationSide, originSide} {
		fmt.Fprintf(w, "%s side\n", strings.ToUpper(sideName(side)))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  IN\tON\tWHEN\tTO\tMEANING")
		for _, r := range tables[side] {
			from := fromText(side, r.from)
			when := "-"
			if r.when != nil {
				when = r.when.name
			}
			to := "stays"
			switch {
			case r.fail != nil:
				to = "fails"
			case r.to != stay:
				to = stateName(r.to)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", from, r.on, when, to, r.says)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
}

// fromText writes a row's states as the side knows them: a list, or "any
// but …" when the row covers most of the side's states.
func fromText(side jiexuv1.CaseSide, from []jiexuv1.CaseState) string {
	var in, out []string
	for _, s := range Sides[side] {
		if slices.Contains(from, s) {
			in = append(in, stateName(s))
		} else {
			out = append(out, stateName(s))
		}
	}
	if slices.Contains(from, none) {
		in = append([]string{"new"}, in...)
	}
	switch {
	case len(out) == 0:
		return "any"
	case len(out) < len(in):
		return "any but " + strings.Join(out, ",")
	}
	return strings.Join(in, ",")
}
