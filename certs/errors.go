package certs

import "errors"

var (
	// ErrUnknownCA is returned when a certificate does not chain to the national root.
	ErrUnknownCA = errors.New("certificate not issued by the jiexu CA")
	// ErrExpired is returned when a certificate is outside its validity period.
	ErrExpired = errors.New("certificate expired or not yet valid")
	// ErrRevoked is returned when a certificate's serial is on the revocation list.
	ErrRevoked = errors.New("certificate revoked")
	// ErrNoRegion is returned when a certificate carries no pooling-region URI SAN.
	ErrNoRegion = errors.New("certificate names no pooling region")
	// ErrNotRegistry is returned when a snapshot is signed by a certificate without the registry role.
	ErrNotRegistry = errors.New("certificate is not the registry's")
	// ErrNoPeerCertificate is returned when a connection carries no verified client certificate.
	ErrNoPeerCertificate = errors.New("no verified peer certificate")
	// ErrBadSeal is returned when a seal's signature does not match the sealed bytes.
	ErrBadSeal = errors.New("seal does not match the sealed content")
	// ErrUnsealed is returned when a seal is missing or incomplete.
	ErrUnsealed = errors.New("not sealed")
	// ErrNotOperator is returned when a certificate names no operator region and role.
	ErrNotOperator = errors.New("certificate is not an operator's")
	// ErrBadRegion is returned when an issue request names a region that is not a real division code.
	ErrBadRegion = errors.New("not a pooling-region code")
	// ErrNotMonitoring is returned when a client of /metrics lacks the monitoring role.
	ErrNotMonitoring = errors.New("certificate is not the monitoring one")
	// ErrBadKind is returned when an agency kind is not insurance or ncms, or
	// a request and the CA disagree on it.
	ErrBadKind = errors.New("bad agency kind")
	// ErrBadBundle is returned when a bundle file lacks a certificate or the
	// CA, or its certificate is not signed by its CA.
	ErrBadBundle = errors.New("not a jiexu certificate bundle")
)
