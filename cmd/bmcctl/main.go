// Command bmcctl is the operator's CLI for an ironroot BMC over Redfish
// (gofish): attest the board's root of trust offline, switch host power,
// read sensors and list accounts. This file is flags and wiring; the
// appraisal of evidence lives in attest/.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stmcginnis/gofish"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: bmcctl COMMAND [flags]

commands:
  attest    --url URL --identity-root mfg-ca.pem --vendor-keys DIR|FILE [--serial S] [--board ID] [--min-svn N]
            ask the board for signed SPDM measurements with a fresh nonce and verify them offline
  power     on|off|status --url URL
  sensors   --url URL
  accounts  --url URL
  version

common flags: --url https://HOST:PORT, --user U --password P (or $BMCCTL_USER, $BMCCTL_PASSWORD),
              --cacert cert.pem (the BMC's TLS certificate or its CA), --timeout 30s
`

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "attest":
		err = attestCmd(ctx, args[1:], stdout)
	case "power":
		err = powerCmd(ctx, args[1:], stdout)
	case "sensors":
		err = sensorsCmd(ctx, args[1:], stdout)
	case "accounts":
		err = accountsCmd(ctx, args[1:], stdout)
	case "version":
		fmt.Fprintln(stdout, "bmcctl", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "bmcctl: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "bmcctl %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "bmcctl %s: %v\n", args[0], err)
		return 1
	}
}

// conn holds the flags every command that talks to a BMC takes.
type conn struct {
	url, user, password, cacert string
	timeout                     time.Duration
}

func (c *conn) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "", "Redfish service, https://HOST:PORT")
	fs.StringVar(&c.user, "user", os.Getenv("BMCCTL_USER"), "user name (default $BMCCTL_USER)")
	fs.StringVar(&c.password, "password", "", "password (default $BMCCTL_PASSWORD; prefer the variable: flags show in ps)")
	fs.StringVar(&c.cacert, "cacert", "", "PEM file of the certificate(s) the BMC's TLS certificate must chain to (default: the system roots)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "timeout of each HTTP request")
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("bmcctl "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// connect logs in with a Redfish session (gofish); the caller logs out.
func (c *conn) connect(ctx context.Context) (*gofish.APIClient, error) {
	if c.url == "" {
		return nil, fmt.Errorf("%w: --url is required", errUsage)
	}
	if c.password == "" {
		c.password = os.Getenv("BMCCTL_PASSWORD")
	}
	if c.user == "" || c.password == "" {
		return nil, fmt.Errorf("%w: credentials: --user and --password (or $BMCCTL_USER and $BMCCTL_PASSWORD)", errUsage)
	}
	tcfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.cacert != "" {
		pem, err := os.ReadFile(c.cacert)
		if err != nil {
			return nil, fmt.Errorf("read --cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s holds no PEM certificate", c.cacert)
		}
		tcfg.RootCAs = pool
	}
	hc := &http.Client{
		Timeout:   c.timeout,
		Transport: &http.Transport{TLSClientConfig: tcfg, Proxy: http.ProxyFromEnvironment},
	}
	client, err := gofish.ConnectContext(ctx, gofish.ClientConfig{
		Endpoint:          strings.TrimRight(c.url, "/"),
		Username:          c.user,
		Password:          c.password,
		HTTPClient:        hc,
		NoModifyTransport: true,
	})
	if err != nil {
		return nil, fmt.Errorf("log in to %s: %w", c.url, err)
	}
	slog.Debug("logged in", "url", c.url, "user", c.user)
	return client, nil
}
