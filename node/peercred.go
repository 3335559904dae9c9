package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"google.golang.org/grpc/credentials"
)

// unixPeer is the AuthInfo of an agency call over the unix socket: the
// calling process's user id, as the kernel reports it.
type unixPeer struct {
	credentials.CommonAuthInfo
	uid int
}

func (unixPeer) AuthType() string { return "unix-peercred" }

// unixCreds is the agency socket's transport security: no encryption (the
// connection never leaves the machine), and the caller's user id from the
// kernel, which must be the node's own user or root.
type unixCreds struct{}

func (unixCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	pc, ok := conn.(*peerConn)
	if !ok {
		return nil, nil, errors.New("agency socket: connection without peer credentials")
	}
	if pc.uid != os.Getuid() && pc.uid != 0 {
		return nil, nil, fmt.Errorf("agency socket: uid %d is neither the node's user (%d) nor root", pc.uid, os.Getuid())
	}
	return conn, unixPeer{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}, uid: pc.uid}, nil
}

func (unixCreds) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("unixCreds is for the server side")
}

func (unixCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "unix-peercred"}
}

func (c unixCreds) Clone() credentials.TransportCredentials { return c }

func (unixCreds) OverrideServerName(string) error { return nil }

// peerConn is an accepted unix connection with its peer's user id; its
// Close frees a place under the connection cap.
type peerConn struct {
	net.Conn
	uid     int
	release func()
}

func (c *peerConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// peerListener reads the peer credentials of every connection accepted on
// a unix socket and holds at most max connections open at once (it does
// netutil.LimitListener's job too, since a wrapped connection would hide
// the unix socket the credentials are read from).
type peerListener struct {
	net.Listener
	sem chan struct{}
}

func newPeerListener(l net.Listener, max int) *peerListener {
	return &peerListener{Listener: l, sem: make(chan struct{}, max)}
}

func (l *peerListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	var once sync.Once
	release := func() { once.Do(func() { <-l.sem }) }
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			release()
			return nil, err
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			c.Close()
			continue
		}
		uid, err := peerUID(uc)
		if err != nil {
			c.Close()
			continue
		}
		return &peerConn{Conn: c, uid: uid, release: release}, nil
	}
}
