// Package mgmtif owns bmcd's management-interface gate: the SPDM requester
// on the RoT link that attests the root of trust and the state machine
// (Locked → Attesting → Open, any failure → Locked with a reason) that
// every management interface consults before it serves anything. Redfish
// is gated by mgmtif/gatehttp, IPMI (mgmtif/ipmi) and the console by
// Gate.State; entering Locked revokes every session through the Revokers.
//
// The gate holds one connection at a time and serializes all traffic on
// it: its own attestation passes, heartbeats and control messages, and any
// caller of Gate.Link (the Redfish SPDMGetSignedMeasurements action) share
// one requester and therefore one transcript.
//
// It knows nothing of HTTP or of the resources it protects, and the
// appraisal itself (what makes evidence good) lives in package attest.
package mgmtif
