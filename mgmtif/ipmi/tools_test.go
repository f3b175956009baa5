package ipmi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/power"
)

// TestIpmitool runs each ipmitool operation of the issue with -C 17 against
// a real server over UDP and checks its output.
func TestIpmitool(t *testing.T) {
	h := startIPMI(t)
	inv := h.tb.Board.Inventory
	steps := []struct {
		args  string
		wants []string
	}{
		{"mc info", []string{"IPMI Version              : 2.0", "Chassis Device"}},
		{"mc guid", []string{"System GUID   : " + inv.UUID, "GUID Encoding : IPMI"}},
		{"mc selftest", []string{"Selftest: passed"}},
		{"chassis status", []string{"System Power         : off"}},
		{"chassis power status", []string{"Chassis Power is off"}},
		{"chassis power on", []string{"Chassis Power Control: Up/On"}},
		{"chassis power status", []string{"Chassis Power is on"}},
		{"chassis power cycle", []string{"Chassis Power Control: Cycle"}},
		{"chassis power reset", []string{"Chassis Power Control: Reset"}},
		{"chassis power soft", []string{"Chassis Power Control: Soft"}},
		{"chassis power off", []string{"Chassis Power Control: Down/Off"}},
		{"chassis identify 15", []string{"Chassis identify interval: 15 seconds"}},
		{"chassis identify force", []string{"Chassis identify interval: indefinite"}},
		{"chassis bootdev pxe", []string{"Set Boot Device to pxe"}},
		{"chassis bootparam get 5", []string{"Boot Flag Valid", "Options apply to only next boot", "Force PXE"}},
		{"chassis bootdev disk", []string{"Set Boot Device to disk"}},
		{"chassis bootdev cdrom", []string{"Set Boot Device to cdrom"}},
		{"chassis bootdev bios", []string{"Set Boot Device to bios"}},
		{"chassis bootparam get 5", []string{"Force Boot into BIOS Setup"}},
		{"sdr list", []string{"CPU1 Temp", "degrees C      | ok", "Fan1", "12V Rail", "Watts"}},
		{"sdr elist", []string{"CPU1 Temp        | 01h | ok", "Inlet Temp"}},
		{"sensor list", []string{"| degrees C  | ok", "| 85.000    | 95.000", "| 10.800    | 11.400    | 12.600    | 13.200"}},
		{"sensor get Inlet\\ Temp", []string{"Sensor ID              : Inlet Temp (0x2)", "Upper Critical        : 40.000"}},
		{"sel info", []string{"Version          : 1.5", "Entries"}},
		{"sel list", []string{"System ACPI Power State", "Session Audit"}},
		{"sel elist", []string{"Host Power"}},
		{"sel clear", []string{"Clearing SEL"}},
		{"sel list", []string{"Event Logging Disabled"}},
		{"fru print", []string{"Builtin FRU Device (ID 0)", "Chassis Serial        : " + inv.ChassisSerial,
			"Board Mfg             : " + inv.Manufacturer, "Product Serial        : " + inv.SerialNumber}},
		{"user list 1", []string{"admin            true    false      true       ADMINISTRATOR"}},
		{"user summary 1", []string{"Maximum IDs	    : 15", "Enabled User Count  : 1"}},
		{"lan print 1", []string{"IP Address              : 127.0.0.1", "Cipher Suite Priv Max   : a"}},
		{"channel info", []string{"Channel Medium Type   : 802.3 LAN"}},
		{"channel getciphers ipmi 1", []string{"17   N/A     hmac_sha256     sha256_128      aes_cbc_128"}},
		{"session info active", []string{"privilege level               : ADMINISTRATOR", "session type                  : IPMIv2/RMCP+"}},
	}
	for _, s := range steps {
		args := strings.Fields(strings.ReplaceAll(s.args, "\\ ", "\x00"))
		for i := range args {
			args[i] = strings.ReplaceAll(args[i], "\x00", " ")
		}
		out := h.mustIpmitool(t, args...)
		mustContain(t, out, s.wants...)
		if s.args == "chassis power on" || s.args == "chassis power cycle" || s.args == "chassis power reset" {
			h.tb.Clock.Advance(30 * time.Second) // let the power machine settle
		}
	}
	if got := h.tb.Board.Power.BootOverride(); got.Target != power.BootBiosSetup || got.Enabled != power.BootOnce {
		t.Errorf("boot override after bootdev bios: %+v", got)
	}
	if !h.tb.Board.LocationIndicatorActive() {
		t.Error("identify force did not light the location indicator")
	}
	// User management on a second account.
	a, err := h.tb.Board.Accounts.ByName(h.user)
	if err != nil {
		t.Fatal(err)
	}
	out := h.mustIpmitool(t, "user", "set", "password", "2", "N3w-Secret-Pw")
	mustContain(t, out, "Set User Password command successful")
	h.pass = "N3w-Secret-Pw"
	mustContain(t, h.mustIpmitool(t, "mc", "selftest"), "passed")
	_ = a
}

func TestIpmitoolUserManagement(t *testing.T) {
	h := startIPMI(t)
	if _, err := h.tb.Board.Accounts.Create("operator1", "Operator-Pw-1", "Operator", []account.AccountType{account.TypeRedfish, account.TypeIPMI}, false); err != nil {
		t.Fatal(err)
	}
	o, _ := h.tb.Board.Accounts.ByName("operator1")
	id := strconv.Itoa(o.ID)
	h.mustIpmitool(t, "user", "priv", id, "4", "1")
	if a, _ := h.tb.Board.Accounts.Get(o.ID); a.Role != "Administrator" || !a.HasType("IPMI") {
		t.Errorf("after user priv 4: %+v", a)
	}
	h.mustIpmitool(t, "user", "disable", id)
	if a, _ := h.tb.Board.Accounts.Get(o.ID); a.Enabled {
		t.Error("user disable did not disable")
	}
	h.mustIpmitool(t, "user", "enable", id)
	h.mustIpmitool(t, "user", "set", "password", id, "Second-Pw-22")
	out, err := h.ipmitoolAs(t, "operator1", "Second-Pw-22", "-C", "17", "chassis", "status")
	if err != nil {
		t.Fatalf("login with the password set over IPMI: %v\n%s", err, out)
	}
	mustContain(t, h.mustIpmitool(t, "user", "list", "1"), "operator1        true    false      true       ADMINISTRATOR")
}

// TestIpmitoolRefusals: cipher 0, cipher 3 while disabled, IPMI 1.5,
// anonymous and null users, wrong password.
func TestIpmitoolRefusals(t *testing.T) {
	h := startIPMI(t)
	for _, tc := range []struct {
		name string
		user string
		pass string
		args []string
	}{
		{"cipher 0", h.user, "anything", []string{"-C", "0", "mc", "info"}},
		{"cipher 3 disabled", h.user, h.pass, []string{"-C", "3", "mc", "info"}},
		{"anonymous", "", "", []string{"-C", "17", "mc", "info"}},
		{"wrong password", h.user, "wrong-password", []string{"-C", "17", "mc", "info"}},
	} {
		out, err := h.ipmitoolAs(t, tc.user, tc.pass, tc.args...)
		if err == nil || strings.Contains(out, "IPMI Version") {
			t.Errorf("%s: not refused:\n%s", tc.name, out)
		}
	}
	out, err := run(t, 30*time.Second, tool(t, "ipmitool", "ipmitool"), "-I", "lan", "-H", "127.0.0.1", "-p", h.port,
		"-U", h.user, "-P", h.pass, "-N", "1", "-R", "1", "mc", "info")
	if err == nil || strings.Contains(out, "IPMI Version") {
		t.Errorf("IPMI 1.5 session not refused:\n%s", out)
	}
	mustContain(t, h.mustIpmitool(t, "channel", "authcap", "1", "4"), "Channel number             : 1",
		"Channel supports IPMI v2.0 : yes", "Channel supports IPMI v1.5 : no", "Anonymous login enabled    : no",
		"Null user names exist      : no")
}

// TestFreeIPMI runs the FreeIPMI tools of the issue (-D LAN_2_0 -I 17, no
// workarounds).
func TestFreeIPMI(t *testing.T) {
	h := startIPMI(t)
	inv := h.tb.Board.Inventory
	mustContain(t, h.mustFreeipmi(t, "bmc-info"), "IPMI Version          : 2.0", "System GUID : "+inv.UUID,
		"Device GUID : "+inv.ManagerUUID, "Medium Type          : 802.3 LAN")
	mustContain(t, h.mustFreeipmi(t, "ipmi-sensors", h.sdrCache(t)...), "CPU1 Temp", "Temperature", "| C     | 'OK'")
	mustContain(t, h.mustFreeipmi(t, "ipmipower", "--stat"), "127.0.0.1: off")
	mustContain(t, h.mustFreeipmi(t, "ipmipower", "--on"), "127.0.0.1: ok")
	h.tb.Clock.Advance(30 * time.Second)
	mustContain(t, h.mustFreeipmi(t, "ipmipower", "--stat"), "127.0.0.1: on")
	mustContain(t, h.mustFreeipmi(t, "ipmipower", "--cycle"), "127.0.0.1: ok")
	h.tb.Clock.Advance(30 * time.Second)
	mustContain(t, h.mustFreeipmi(t, "ipmipower", "--off"), "127.0.0.1: ok")
	h.tb.Clock.Advance(30 * time.Second)
	mustContain(t, h.mustFreeipmi(t, "ipmi-chassis", "--get-chassis-status"), "System Power                        : off")
	mustContain(t, h.mustFreeipmi(t, "ipmi-sel", h.sdrCache(t)...), "System ACPI Power State", "Session Audit")
	mustContain(t, h.mustFreeipmi(t, "ipmi-fru", h.sdrCache(t)...), "FRU Chassis Serial Number: "+inv.ChassisSerial,
		"FRU Board Manufacturer: "+inv.Manufacturer)
}

// TestPowerRedfishAndIPMI: a change made over one interface shows on the other.
func TestPowerRedfishAndIPMI(t *testing.T) {
	h := startIPMI(t)
	h.mustIpmitool(t, "chassis", "power", "on")
	h.tb.Clock.Advance(30 * time.Second)
	resp := h.tb.Do(t, h.tb.NewRequest(t, http.MethodGet, "/redfish/v1/Systems/1", nil))
	var sys struct{ PowerState string }
	if err := json.Unmarshal(resp.Body, &sys); err != nil || sys.PowerState != "On" {
		t.Fatalf("Redfish PowerState after ipmitool power on: %q (%v)", sys.PowerState, err)
	}
	resp = h.tb.Do(t, h.tb.NewRequest(t, http.MethodPost, "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
		map[string]string{"ResetType": "ForceOff"}))
	if resp.StatusCode >= 300 {
		t.Fatalf("Redfish ForceOff: %d %s", resp.StatusCode, resp.Body)
	}
	h.tb.Clock.Advance(30 * time.Second)
	mustContain(t, h.mustIpmitool(t, "chassis", "power", "status"), "Chassis Power is off")
}
