package redfish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/power"
	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// redfishtoolPath finds DMTF's redfishtool (Debian package redfishtool). Its absence is a
// broken test machine, not a reason to skip: the test fails and says how to fix it.
func redfishtoolPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("redfishtool")
	if err != nil {
		p, err = exec.LookPath("/usr/bin/redfishtool")
	}
	if err != nil {
		t.Fatalf("redfishtool not found: install Debian package redfishtool (.ci/run does): %v", err)
	}
	return p
}

type toolResult struct {
	exit           int
	stdout, stderr string
}

// runRedfishtool runs redfishtool against the board as user with -S Always (HTTPS
// only) and -n (no proxy), bounded to 60 s; exec.CommandContext kills it by PID on
// timeout and Run waits for it.
func runRedfishtool(t *testing.T, tb *testboard.TB, user, password string, args ...string) toolResult {
	t.Helper()
	tool := redfishtoolPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	host := strings.TrimPrefix(tb.URL, "https://")
	full := append([]string{"-r", host, "-u", user, "-p", password, "-S", "Always", "-n"}, args...)
	cmd := exec.CommandContext(ctx, tool, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := toolResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("redfishtool %s: no answer within 60 s (killed); stderr: %s", strings.Join(args, " "), res.stderr)
	case errors.As(err, &ee):
		res.exit = ee.ExitCode()
	case err != nil:
		t.Fatalf("redfishtool %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// toolJSON runs redfishtool, requires exit status 0 and returns its JSON output.
func toolJSON(t *testing.T, tb *testboard.TB, args ...string) map[string]any {
	t.Helper()
	res := runRedfishtool(t, tb, tb.AdminUser, tb.AdminPassword, args...)
	if res.exit != 0 {
		t.Fatalf("redfishtool %s: exit status %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.exit, res.stdout, res.stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &m); err != nil {
		t.Fatalf("redfishtool %s: output is not a JSON object: %v\n%s", strings.Join(args, " "), err, res.stdout)
	}
	return m
}

func wantFields(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %v, want %v", what, k, got[k], v)
		}
	}
}

func TestRedfishtoolSystemsChassisManagers(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	inv := tb.Board.Inventory

	coll := toolJSON(t, tb, "Systems")
	wantFields(t, "Systems", coll, map[string]any{"@odata.id": "/redfish/v1/Systems", "Members@odata.count": 1.0})

	sys := toolJSON(t, tb, "Systems", "-I", "1")
	wantFields(t, "Systems -I 1", sys, map[string]any{
		"@odata.id": "/redfish/v1/Systems/1", "Id": "1", "PowerState": "Off",
		"SerialNumber": inv.SerialNumber, "UUID": inv.UUID, "BiosVersion": inv.BiosVersion,
	})
	if boot, _ := sys["Boot"].(map[string]any); boot["BootSourceOverrideEnabled"] == nil {
		t.Errorf("Systems -I 1: no Boot.BootSourceOverrideEnabled in %v", sys["Boot"])
	}

	ch := toolJSON(t, tb, "Chassis", "-1")
	wantFields(t, "Chassis -1", ch, map[string]any{"@odata.id": "/redfish/v1/Chassis/1", "ChassisType": "RackMount"})

	mgr := toolJSON(t, tb, "Managers", "-1")
	wantFields(t, "Managers -1", mgr, map[string]any{"@odata.id": "/redfish/v1/Managers/bmc", "ManagerType": "BMC"})
	if mgr["FirmwareVersion"] == nil || mgr["FirmwareVersion"] == "" {
		t.Errorf("Managers -1: no FirmwareVersion")
	}
}

func TestRedfishtoolSessionAuthAndReset(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	// Session login (POST Sessions, X-Auth-Token, Location), a GET, then logout.
	sys := toolJSON(t, tb, "-A", "Session", "Systems", "-1", "get")
	wantFields(t, "-A Session Systems -1 get", sys, map[string]any{"Id": "1"})
	// redfishtool deleted its session on the way out.
	resp := tb.Do(t, tb.NewRequest(t, "GET", "/redfish/v1/SessionService/Sessions", nil))
	if n := resp.JSON(t)["Members@odata.count"]; n != 0.0 {
		t.Errorf("sessions left after redfishtool logged out: %v", n)
	}

	// One action: power the host on.
	res := runRedfishtool(t, tb, tb.AdminUser, tb.AdminPassword, "Systems", "-1", "reset", "On")
	if res.exit != 0 {
		t.Fatalf("Systems -1 reset On: exit status %d\nstdout: %s\nstderr: %s", res.exit, res.stdout, res.stderr)
	}
	if st := tb.Board.Power.State(); st != power.PoweringOn && st != power.On {
		t.Errorf("after reset On the host is %s, want PoweringOn or On", st)
	}

	// A wrong password is refused: non-zero exit status, nothing on stdout.
	res = runRedfishtool(t, tb, tb.AdminUser, "Wrong-Passw0rd-1", "Systems", "-1")
	if res.exit == 0 || strings.Contains(res.stdout, "SerialNumber") {
		t.Errorf("wrong password: exit status %d, stdout %q; want a failure and no data", res.exit, res.stdout)
	}
}
