package node

import (
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// DialAgency connects to a node's local agency API at "unix:PATH" or a
// loopback host:port. The agency API is local only, so the connection is not
// encrypted; it never leaves the machine.
func DialAgency(addr string) (jiexuv1.AgencyServiceClient, *grpc.ClientConn, error) {
	target := addr
	if !strings.HasPrefix(addr, "unix:") && !isLoopback(addr) {
		return nil, nil, fmt.Errorf("agency address %q must be unix:PATH or a loopback address", addr)
	}
	if !strings.HasPrefix(addr, "unix:") {
		target = "passthrough:///" + addr
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return jiexuv1.NewAgencyServiceClient(conn), conn, nil
}
