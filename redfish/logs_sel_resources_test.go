package redfish

import "testing"

func TestIPMIEntryCodeAndSensorType(t *testing.T) {
	for _, tc := range []struct {
		eventType, data1 uint8
		want             string
	}{
		{0x01, 0x09, "Upper Critical - going high"},
		{0x01, 0x57, "Upper Non-critical - going high"}, // upper nibble: reading/threshold in data 2/3
		{0x01, 0x02, "Lower Critical - going low"},
		{0x81, 0x09, "Deassert"},
		{0x6F, 0x00, "Assert"},
		{0xEF, 0x05, "Deassert"},
	} {
		if got := ipmiEntryCode(tc.eventType, tc.data1); got != tc.want {
			t.Errorf("ipmiEntryCode(%#x, %#x) = %q, want %q", tc.eventType, tc.data1, got, tc.want)
		}
	}
	for code, want := range map[uint8]string{0x01: "Temperature", 0x04: "Fan", 0x22: "System ACPI PowerState", 0x2A: "Session Audit", 0xC0: "OEM"} {
		if got := ipmiSensorType(code); got != want {
			t.Errorf("ipmiSensorType(%#x) = %q, want %q", code, got, want)
		}
	}
}
