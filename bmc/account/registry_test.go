package account

import (
	"strings"
	"testing"

	"github.com/ironroot-bmc/ironroot/bmc/event"
)

// TestEventsMatchBoardRegistry checks every message this package emits is
// in the board's OEM registry with the number of arguments we pass.
func TestEventsMatchBoardRegistry(t *testing.T) {
	reg := event.BoardRegistry()
	for id, nargs := range map[string]int{
		msgLoginFailed:      2,
		msgAccountLockedOut: 1,
		msgAccountUnlocked:  1,
		msgAccountCreated:   1,
		msgAccountModified:  1,
		msgAccountRemoved:   1,
	} {
		key := id[strings.LastIndexByte(id, '.')+1:]
		def, ok := reg.Messages[key]
		if !ok {
			t.Errorf("%s not in %s", key, reg.Prefix)
			continue
		}
		if def.NumberOfArgs != nargs {
			t.Errorf("%s takes %d args, we pass %d", key, def.NumberOfArgs, nargs)
		}
		args := make([]string, nargs)
		if _, ok := reg.Render(id, args); !ok {
			t.Errorf("Render(%s) failed", id)
		}
	}
}
