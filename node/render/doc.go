// Package render presents cases, certificates, queues and errors to people:
// labels, terminal tables and the printable certificate page. It reads the
// wire types and the pure rules; nothing in the node's core depends on how a
// thing is shown, except the enum labels that logs and metrics share.
//
//	render.FormatCase(os.Stdout, c)
//	page, err := render.RenderHTML(sealed, cert)
package render
