package mgmtif

import "fmt"

// State is a state of the gate.
type State string

// The gate's states.
const (
	// Locked: no attestation holds; every management interface is shut
	// (only Redfish discovery answers) and no session survives entering it.
	Locked State = "Locked"
	// Attesting: a fresh attestation is running; interfaces stay shut.
	Attesting State = "Attesting"
	// Open: the RoT's evidence appraised good and is re-checked every
	// interval inside the secured session.
	Open State = "Open"
)

// Transition is one allowed change of state and what it means. Each one
// is logged as IronrootEvent GateStateChanged(from, to, reason).
type Transition struct {
	From, To State
	// When says what causes the transition.
	When string
	// Revoke: entering To revokes every management session.
	Revoke bool
}

// Transitions is the gate's state machine, the whole of it:
//
//	      start (no event)
//	          │
//	          v
//	┌────> Locked ──(retry after RetryDelay)──> Attesting
//	│         ^                                   │   │
//	│         └──────────(any check fails)────────┘   │ (first pass appraised good)
//	│                                                 v
//	└──────(a re-check, heartbeat or the link fails)─ Open ─┐
//	                                                     ^  │ (every Interval: signed
//	                                                     └──┘  measurements + digests; no event)
func Transitions() []Transition {
	return []Transition{
		{From: Locked, To: Attesting, When: "an attestation of the root of trust begins"},
		{From: Attesting, To: Open, When: "the evidence appraised good"},
		{From: Attesting, To: Locked, When: "a step of the attestation failed", Revoke: true},
		{From: Open, To: Locked, When: "a re-check, a heartbeat or the link failed", Revoke: true},
	}
}

// transition returns the table entry from → to.
func transition(from, to State) (Transition, error) {
	for _, t := range Transitions() {
		if t.From == from && t.To == to {
			return t, nil
		}
	}
	return Transition{}, fmt.Errorf("mgmtif: gate transition %s → %s is not in the table", from, to)
}
