package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/ironroot-bmc/ironroot/bmc/guest"
)

// guestSetup prepares a board's Linux guest for bmcd (modules, NIC, clock, state disk,
// RoT link in raw mode, watchdog; see bmc/guest) when bmcd runs as the u-root image's
// uinit. The returned config names the state directory and the addresses to serve on.
// The watchdog is fed for the life of the process.
func guestSetup(log *slog.Logger) (guest.Config, error) {
	cfg, err := guest.Setup(context.Background(), guest.Options{Logger: log})
	if err != nil {
		return guest.Config{}, fmt.Errorf("guest setup: %w", err)
	}
	return cfg, nil
}

// guestExit ends the guest with bmcd's exit status: state disk synced and unmounted,
// the status printed on the console, then a machine restart (QEMU exits: a BMC reset
// for the supervisor). It returns only if the restart failed.
func guestExit(cfg guest.Config, code int, log *slog.Logger) {
	if err := guest.Shutdown(cfg, code); err != nil {
		log.Error("guest shutdown", "err", err)
		os.Exit(code)
	}
}
