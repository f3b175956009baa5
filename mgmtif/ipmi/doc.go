// Package ipmi owns IPMI 2.0 over LAN (RMCP+) for the BMC: the UDP server,
// its session table (RAKP handshake, replay windows, eviction, rate
// limits), and the command set that ipmitool and FreeIPMI use, mapped onto
// the board model of package bmc (power, boot override, sensors as SDRs,
// the event store as SEL, inventory as FRU, accounts and their lockout).
//
// Packet and key-derivation pieces come from github.com/bougou/go-ipmi
// (pkg/rmcpplus, pkg/crypto, pkg/protocol); session handling, policy and
// dispatch are ours. Secure defaults: cipher suite 17 only (suite 3 only
// when configured), no cipher 0, no IPMI 1.5 sessions, no anonymous or null
// users, no user enumeration through RAKP, a 32-packet replay bitmap per
// session, a bounded session table and a per-source rate limit on session
// opens. Every RAKP outcome is audited in the board's event log.
//
// The package knows nothing of Redfish and nothing of how the gate decides:
// the gate is consulted through ServerConfig.Gate before any packet is
// answered, and it (or anyone) may drop every session with RevokeAll.
package ipmi
