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
	// Open: the RoT's evidence appraised good and is re-checked inside
	// the secured session often enough that a RoT that stops answering
	// locks the gate within one interval (Schedule).
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
//	┌────> Locked ──(retry after RetryDelay ≤ Interval)──> Attesting
//	│         ^                                              │   │
//	│         └────────────────(any check fails)─────────────┘   │ (first pass appraised good)
//	│                                                            v
//	└──────(a re-check, heartbeat or the link fails)──────────── Open ─┐
//	                                                                ^  │ (every Recheck: signed
//	                                                                └──┘  measurements + digests; no event)
//
// The timing (Schedule): a pass starts every Recheck ≈ Interval −
// LinkTimeout after the previous one began and each exchange is bounded
// by LinkTimeout, so a RoT that stops answering locks the gate within
// one Interval; consecutive failures back off from RetryDelay to Interval.
func Transitions() []Transition {
	return []Transition{
		{From: Locked, To: Attesting, When: "an attestation of the root of trust begins (first start, or RetryDelay after Locked)"},
		{From: Attesting, To: Open, When: "the evidence appraised good"},
		{From: Attesting, To: Locked, When: "a step of the attestation failed or timed out (LinkTimeout)", Revoke: true},
		{From: Open, To: Locked, When: "a re-check, a heartbeat or the link failed or timed out (LinkTimeout)", Revoke: true},
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
