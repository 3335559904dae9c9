// Package transfer is the transfer case's state machine: what each event
// does to a case on either side, written as one table per side (state ×
// event → next state, guard, effects) with one entry point, Step, that every
// handler of the node calls. It does no I/O: the node gathers the facts an
// event needs (what it holds for the person, the certificate's figures, the
// amount that arrived), calls Step, and carries out the effects it returns —
// messages to send and changes to the person's enrolment — in the same
// transaction as the new state.
//
// The order of events follows the measures (DOMAIN.md rule 2): the origin
// suspends the enrolment and issues the certificate when the person leaves;
// the person enrols at the destination; on application the destination
// notifies the origin, which checks that the enrolment is suspended (an NCMS
// participation ends by itself when the person joins an urban scheme) and
// then sends the certificate and, from a personal account to a personal
// account, the balance. The origin never suspends an employee because
// another agency asked: a case for a person still enrolled there waits,
// visibly, for the local suspension or an operator's refusal.
//
// Messages may arrive in any order and any number of times: every row of
// the tables is written so that a repeated or late event has no second
// effect, and the property test in this package drives random interleavings
// of both sides and checks that money is conserved and both sides agree.
//
//	next, effects, err := transfer.Step(c, transfer.Input{Event: transfer.Certificate, Balance: 1640902, ...})
//
// Table() returns the tables as text; testdata/tables.golden is that text,
// so that a change to any transition shows in review.
package transfer
