package mgmtif

import (
	"context"
	"fmt"
	"io"
	"net"
)

// TCPDialer dials the RoT link over TCP (the sim board: rotd's
// --spdm-addr, 127.0.0.1:2323).
func TCPDialer(addr string) Dialer {
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("RoT link %s: %w", addr, err)
		}
		return c, nil
	}
}
