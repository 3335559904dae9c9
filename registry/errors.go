package registry

import "errors"

var (
	// ErrMalformedCode is returned when a division code is not six ASCII digits.
	ErrMalformedCode = errors.New("division code must be 6 digits")
	// ErrUnknownDivision is returned when a well-formed code was never used in GB/T 2260 since 1981.
	ErrUnknownDivision = errors.New("no such division code in GB/T 2260")
	// ErrNotPlace is returned when a code that is not a place in force is used
	// where one is needed: a code history says is no longer in use, or a
	// grouping row of older tables (…直辖县级行政区划, 500100 市辖区).
	ErrNotPlace = errors.New("division code is not a place in force")
	// ErrBadTable is returned when a division table's files are malformed or disagree.
	ErrBadTable = errors.New("bad GB/T 2260 table")
	// ErrSplitDivision is returned when a former code's area went to several
	// codes served by different nodes and the registry has not decided which
	// one it routes to.
	ErrSplitDivision = errors.New("division code was split between nodes")
	// ErrUnserved is returned when no registered node serves a division or any of its parents.
	ErrUnserved = errors.New("no node serves this division")
	// ErrUnknownNode is returned when a region has no node in the snapshot.
	ErrUnknownNode = errors.New("no node registered for this region")
	// ErrUnsigned is returned when a snapshot carries no seal.
	ErrUnsigned = errors.New("snapshot is not signed")
	// ErrBadSignature is returned when a snapshot's seal does not verify.
	ErrBadSignature = errors.New("snapshot signature invalid")
	// ErrRollback is returned when a snapshot is older than the one already held.
	ErrRollback = errors.New("snapshot older than the one held")
	// ErrSnapshotExpired is returned when a snapshot is past its expiry.
	ErrSnapshotExpired = errors.New("snapshot expired")
	// ErrConflict is returned when a snapshot has the version of the one held but other content.
	ErrConflict = errors.New("snapshot has the held version but other content")
	// ErrStaleCRL is returned when a snapshot carries a revocation list older than the one held.
	ErrStaleCRL = errors.New("snapshot carries an older revocation list than the one held")
	// ErrFutureSnapshot is returned when a snapshot is issued in the future or claims too long a life.
	ErrFutureSnapshot = errors.New("snapshot issued in the future or valid for too long")
	// ErrNotPinned is returned when a snapshot is sealed by a registry certificate other than the one the CA announced.
	ErrNotPinned = errors.New("snapshot sealed by a registry certificate the CA has not announced")
	// ErrBadAnnouncement is returned when a registry announcement is not the CA's or contradicts one held.
	ErrBadAnnouncement = errors.New("registry announcement invalid")
	// ErrDuplicateNode is returned when two nodes claim the same region or division.
	ErrDuplicateNode = errors.New("division already served by another node")
	// ErrAddressNotCertified is returned when a node is registered at an
	// address its certificate does not name, which peers would refuse.
	ErrAddressNotCertified = errors.New("the certificate is not valid for the address")
	// ErrBadDecision is returned when the directory's choice of successor for
	// a split code is not one of its successors.
	ErrBadDecision = errors.New("successor decision invalid")
)
