package render

import (
	"bytes"
	"io"
	"strings"
)

// Table aligns tab-separated cells in columns, as text/tabwriter does with
// a padding of two spaces, but measures a cell by the columns a terminal
// gives it: a Chinese character takes two, so a table of names and places
// lines up. As with tabwriter, a cell is text ended by a tab; the last
// text of a line is not a cell and does not widen its column, and a column
// is aligned over each run of consecutive lines that have it. Nothing is
// written before Flush.
type Table struct {
	w   io.Writer
	buf bytes.Buffer
}

// NewTable returns a Table writing to w on Flush.
func NewTable(w io.Writer) *Table { return &Table{w: w} }

// Write buffers p.
func (t *Table) Write(p []byte) (int, error) { return t.buf.Write(p) }

// tablePadding is the space between columns.
const tablePadding = 2

// Flush writes the buffered text aligned and empties the buffer.
func (t *Table) Flush() error {
	text := t.buf.String()
	t.buf.Reset()
	trailing := strings.HasSuffix(text, "\n")
	text = strings.TrimSuffix(text, "\n")
	if text == "" && !trailing {
		return nil
	}
	var lines [][]string
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, strings.Split(l, "\t"))
	}
	widths := make([][]int, len(lines)) // widths[i][col]: the padded width of that cell
	for i, cells := range lines {
		widths[i] = make([]int, len(cells)-1)
	}
	alignColumn(lines, widths, 0, len(lines), 0)
	var out strings.Builder
	for i, cells := range lines {
		for col, cell := range cells {
			out.WriteString(cell)
			if col < len(cells)-1 {
				out.WriteString(strings.Repeat(" ", widths[i][col]-DisplayWidth(cell)))
			}
		}
		if i < len(lines)-1 || trailing {
			out.WriteByte('\n')
		}
	}
	_, err := io.WriteString(t.w, out.String())
	return err
}

// alignColumn sets, for lines [from, to), the width of column col over each
// run of consecutive lines that have a cell there, then aligns the next
// column within that run.
func alignColumn(lines [][]string, widths [][]int, from, to, col int) {
	for i := from; i < to; {
		if len(lines[i])-1 <= col {
			i++
			continue
		}
		end, widest := i, 0
		for ; end < to && len(lines[end])-1 > col; end++ {
			widest = max(widest, DisplayWidth(lines[end][col]))
		}
		for j := i; j < end; j++ {
			widths[j][col] = widest + tablePadding
		}
		alignColumn(lines, widths, i, end, col+1)
		i = end
	}
}

// DisplayWidth is the number of terminal columns s takes: two for each
// East Asian wide or fullwidth character (Chinese characters, fullwidth
// forms such as ￥ and the ideographic space), one for any other.
func DisplayWidth(s string) int {
	n := 0
	for _, r := range s {
		n++
		if wide(r) {
			n++
		}
	}
	return n
}

// wide reports whether r is East Asian Wide or Fullwidth (Unicode UAX #11),
// for the blocks a Chinese agency's text uses.
func wide(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case r <= 0x115F, // Hangul Jamo
		r >= 0x2E80 && r <= 0x303E,   // CJK radicals, Kangxi, CJK symbols and punctuation (the ideographic space)
		r >= 0x3041 && r <= 0x33FF,   // kana, bopomofo, CJK compatibility
		r >= 0x3400 && r <= 0x4DBF,   // CJK extension A
		r >= 0x4E00 && r <= 0x9FFF,   // CJK unified ideographs
		r >= 0xA000 && r <= 0xA4CF,   // Yi
		r >= 0xAC00 && r <= 0xD7A3,   // Hangul syllables
		r >= 0xF900 && r <= 0xFAFF,   // CJK compatibility ideographs
		r >= 0xFE30 && r <= 0xFE4F,   // CJK compatibility forms
		r >= 0xFF00 && r <= 0xFF60,   // fullwidth forms （）：，
		r >= 0xFFE0 && r <= 0xFFE6,   // fullwidth signs ￥
		r >= 0x20000 && r <= 0x3FFFD: // CJK extensions B and later
		return true
	}
	return false
}
