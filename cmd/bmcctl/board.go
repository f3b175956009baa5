package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
)

// powerCmd: bmcctl power on|off|status. "off" is a graceful shutdown unless
// --force.
func powerCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("%w: power on|off|status", errUsage)
	}
	op := args[0]
	fs := newFlagSet("power")
	var c conn
	c.flags(fs)
	force := fs.Bool("force", false, "power off at once (ForceOff) instead of a graceful shutdown")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	var rt schemas.ResetType
	switch op {
	case "on":
		rt = schemas.OnResetType
	case "off":
		rt = schemas.GracefulShutdownResetType
		if *force {
			rt = schemas.ForceOffResetType
		}
	case "status":
	default:
		return fmt.Errorf("%w: power %q: want on, off or status", errUsage, op)
	}
	client, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer client.Logout()
	systems, err := client.GetService().Systems()
	if err != nil {
		return fmt.Errorf("list systems: %w", err)
	}
	if len(systems) == 0 {
		return fmt.Errorf("the service lists no ComputerSystem")
	}
	for _, s := range systems {
		if rt != "" {
			if _, err := s.Reset(rt); err != nil {
				return fmt.Errorf("%s: reset %s: %w", s.ODataID, rt, err)
			}
			fmt.Fprintf(stdout, "%s: %s requested\n", s.ID, rt)
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", s.ID, s.PowerState)
	}
	return nil
}

// sensorsCmd lists every chassis sensor with its reading.
func sensorsCmd(ctx context.Context, args []string, stdout io.Writer) error {
	return withService(ctx, "sensors", args, func(svc *gofish.Service) error {
		return listSensors(svc, stdout)
	})
}

func listSensors(svc *gofish.Service, stdout io.Writer) error {
	chassis, err := svc.Chassis()
	if err != nil {
		return fmt.Errorf("list chassis: %w", err)
	}
	fmt.Fprintf(stdout, "%-10s %-24s %-12s %12s %-6s %s\n", "CHASSIS", "SENSOR", "TYPE", "READING", "UNITS", "HEALTH")
	for _, ch := range chassis {
		sensors, err := ch.Sensors()
		if err != nil {
			return fmt.Errorf("%s: sensors: %w", ch.ODataID, err)
		}
		for _, s := range sensors {
			reading := "-"
			if s.Reading != nil {
				reading = strconv.FormatFloat(*s.Reading, 'f', -1, 64)
			}
			fmt.Fprintf(stdout, "%-10s %-24s %-12s %12s %-6s %s\n", ch.ID, s.ID, s.ReadingType, reading, s.ReadingUnits, s.Status.Health)
		}
	}
	return nil
}

// accountsCmd lists the manager accounts.
func accountsCmd(ctx context.Context, args []string, stdout io.Writer) error {
	return withService(ctx, "accounts", args, func(svc *gofish.Service) error {
		return listAccounts(svc, stdout)
	})
}

func listAccounts(svc *gofish.Service, stdout io.Writer) error {
	as, err := svc.AccountService()
	if err != nil {
		return fmt.Errorf("account service: %w", err)
	}
	accounts, err := as.Accounts()
	if err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	fmt.Fprintf(stdout, "%-4s %-16s %-14s %-8s %-7s %s\n", "ID", "USER", "ROLE", "ENABLED", "LOCKED", "TYPES")
	for _, a := range accounts {
		types := make([]string, len(a.AccountTypes))
		for i, t := range a.AccountTypes {
			types[i] = string(t)
		}
		fmt.Fprintf(stdout, "%-4s %-16s %-14s %-8t %-7t %s\n", a.ID, a.UserName, a.RoleID, a.Enabled, a.Locked, strings.Join(types, ","))
	}
	return nil
}

// withService runs a command that takes only the connection flags: it parses them, logs
// in, hands f the service root and logs out.
func withService(ctx context.Context, name string, args []string, f func(*gofish.Service) error) error {
	fs := newFlagSet(name)
	var c conn
	c.flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	client, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer client.Logout()
	return f(client.GetService())
}
