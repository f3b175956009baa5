package redfish_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/bmc/power"
)

func TestLogServices(t *testing.T) {
	c := newResClient(t)
	c.tb.Board.Log(event.AccountCreated, event.OK, "/redfish/v1/AccountService/Accounts/3", "bob")
	if err := c.tb.Board.Power.Reset(power.ResetOn); err != nil { // PowerStateChanged, with SEL fields
		t.Fatal(err)
	}
	c.tb.Clock.Advance(10 * time.Second)

	ids := members(t, c.get("/redfish/v1/Systems/1/LogServices"))
	if len(ids) != 2 || ids[0] != "/redfish/v1/Systems/1/LogServices/EventLog" || ids[1] != "/redfish/v1/Systems/1/LogServices/SEL" {
		t.Fatalf("log services %v", ids)
	}
	ls := c.get(ids[0])
	for k, want := range map[string]any{
		"@odata.type": "#LogService.v1_9_0.LogService", "OverWritePolicy": "WrapsWhenFull",
		"MaxNumberOfRecords": float64(c.tb.Board.Events.MaxEvents()), "LogEntryType": "Event",
	} {
		if ls[k] != want {
			t.Errorf("%s = %v, want %v", k, ls[k], want)
		}
	}
	entries := members(t, c.get(path(ls, "Entries", "@odata.id").(string)))
	if len(entries) != len(c.tb.Board.Events.List()) {
		t.Fatalf("%d entries, store has %d", len(entries), len(c.tb.Board.Events.List()))
	}
	var sawAccount, sawPower bool
	for _, uri := range entries {
		e := c.get(uri)
		if e["EntryType"] != "Event" || e["@odata.type"] != "#LogEntry.v1_21_0.LogEntry" {
			t.Errorf("entry %v", e)
		}
		if _, err := time.Parse(time.RFC3339, e["Created"].(string)); err != nil {
			t.Errorf("Created: %v", err)
		}
		switch e["MessageId"] {
		case event.AccountCreated:
			sawAccount = e["Message"] == "Account bob was created." &&
				path(e, "Links", "OriginOfCondition", "@odata.id") == "/redfish/v1/AccountService/Accounts/3"
		case event.PowerStateChanged:
			sawPower = strings.Contains(e["Message"].(string), "PoweringOn")
		}
	}
	if !sawAccount || !sawPower {
		t.Errorf("entries lack the account (%v) or power (%v) event", sawAccount, sawPower)
	}

	sel := c.get(ids[1])
	if sel["LogEntryType"] != "SEL" {
		t.Errorf("SEL LogEntryType %v", sel["LogEntryType"])
	}
	selEntries := members(t, c.get("/redfish/v1/Systems/1/LogServices/SEL/Entries"))
	if len(selEntries) == 0 || len(selEntries) >= len(entries) {
		t.Fatalf("%d SEL entries of %d events", len(selEntries), len(entries))
	}
	for _, uri := range selEntries {
		e := c.get(uri)
		if e["EntryType"] != "SEL" || !regexp.MustCompile(`^0x[0-9A-F]{8}$`).MatchString(e["MessageId"].(string)) ||
			e["SensorType"] == nil || e["SensorNumber"] == nil || e["EntryCode"] == nil {
			t.Errorf("SEL entry %v", e)
		}
	}
	resWant(t, c.do(http.MethodGet, "/redfish/v1/Systems/1/LogServices/Audit", nil), http.StatusNotFound, "ResourceNotFound")
	resWant(t, c.do(http.MethodGet, "/redfish/v1/Systems/1/LogServices/EventLog/Entries/999999", nil), http.StatusNotFound, "ResourceNotFound")
	resWant(t, c.do(http.MethodGet, "/redfish/v1/Systems/1/LogServices/EventLog/Entries/x", nil), http.StatusNotFound, "ResourceNotFound")
}

func TestLogClear(t *testing.T) {
	c := newResClient(t)
	c.tb.Board.Log(event.AccountCreated, event.OK, "", "bob")
	const clear = "/redfish/v1/Systems/1/LogServices/EventLog/Actions/LogService.ClearLog"
	ro := c.as("viewer", account.ReadOnly)
	resWant(t, ro.do(http.MethodPost, clear, `{}`), http.StatusForbidden, "InsufficientPrivilege")
	resWant(t, c.do(http.MethodPost, clear, `{"LogEntriesETag":"\"x\""}`), http.StatusBadRequest, "ActionParameterNotSupported")
	resWant(t, c.do(http.MethodPost, clear, `{"Force":true}`), http.StatusBadRequest, "ActionParameterUnknown")
	if len(c.tb.Board.Events.List()) < 2 {
		t.Fatal("refused ClearLog requests cleared the log")
	}

	op := c.as("operator", account.Operator) // ConfigureComponents clears a system's log
	resWant(t, op.do(http.MethodPost, clear, nil), http.StatusNoContent, "")
	entries := members(t, c.get("/redfish/v1/Systems/1/LogServices/EventLog/Entries"))
	var ids []string
	for _, e := range c.tb.Board.Events.List() {
		ids = append(ids, e.MessageID)
	}
	if len(entries) > 2 || !strings.Contains(strings.Join(ids, " "), event.LogCleared) {
		t.Fatalf("after ClearLog: entries %v, events %v", entries, ids)
	}
}
