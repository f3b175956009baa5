package tpm

import (
	"fmt"
	"os"

	"github.com/google/go-tpm/tpm2/transport"
	"golang.org/x/sys/unix"
)

// openDevice opens a kernel TPM device blocking: go-tpm's linuxtpm.Open
// goes through the runtime poller, and reads from the resource manager
// then return EOF instead of waiting for the response.
func openDevice(path string) (*TPM, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening TPM device %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	// A board's power-on resets a hardware TPM; rotd cannot.
	return New(transport.FromReadWriteCloser(f), nil), nil
}
