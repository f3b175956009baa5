// Command httpready is the uinit of the minimal baseline image: it brings up the NIC
// (the same way bmcd does, through bmc/guest) and answers HTTP, nothing else. The QEMU
// end-to-end test boots it with the same kernel to measure the cost of bmcd itself.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/guest"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := guest.Setup(context.Background(), guest.Options{Logger: log, SkipStateDisk: true, SkipRoTLink: true})
	if err != nil {
		log.Error("guest setup", "err", err)
		os.Exit(1)
	}
	addr := net.JoinHostPort(cfg.Address.String(), "443")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("listen", "addr", addr, "err", err)
		os.Exit(1)
	}
	fmt.Println("httpready: READY on", addr)
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "ok")
		}),
	}
	log.Error("serve", "err", srv.Serve(ln))
	os.Exit(1)
}
