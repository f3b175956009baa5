// Package account owns the BMC's user accounts: one protocol-neutral store
// shared by Redfish and IPMI. It owns account identity (numeric IDs 2..15,
// which are also the IPMI user IDs; ID 1 is IPMI's reserved anonymous user,
// permanently disabled and never returned), user names, roles and their
// DMTF standard privileges, account types (Redfish, IPMI), the password
// policy, password hashes, the reversible IPMI key, login failure counting,
// lockout and PasswordChangeRequired. It knows nothing of HTTP, sessions or
// RMCP+: the Redfish and IPMI layers decide what an authenticated Account
// may do (for example that PasswordChangeRequired restricts it, or that an
// account without the Redfish account type may not use Redfish).
//
// # Passwords
//
// Passwords are stored as PBKDF2-HMAC-SHA256 (crypto/pbkdf2) over a fresh
// 16-byte random salt per password set, 32-byte output, compared in
// constant time. The parameters (algorithm name and iteration count) are
// stored with each hash, so the count can be raised later: old hashes
// keep verifying with their own count and are re-hashed with the current
// one at their next successful login.
//
// The iteration count is 120,000. On the development machine (2-vCPU
// Intel Xeon with SHA-NI, Go 1.26.8, linux/amd64, 2026-11-27)
// BenchmarkVerifyPassword measures one verification at about 33 ms
// (median of 5 runs 33.4 ms/op, range 26–40 ms/op on a shared, loaded
// machine), inside the 20–50 ms target: slow enough for an offline
// guesser, fast enough for an interactive login. Re-measure on the real
// BMC SoC (an AST2600 is far slower) and raise or lower the count there.
//
// A login for an unknown user name verifies the password against a dummy
// hash made at Open with the same parameters, so it costs the same time
// as a wrong password and the error is the same (ErrBadCredentials).
//
// # Verification cache
//
// HTTP Basic authentication presents the password on every request, and 32
// ms per request would cap a client at about 30 requests per second per
// core. Authenticate therefore keeps a small bounded in-memory cache (32
// entries) of recent SUCCESSFUL verifications, keyed by
// HMAC-SHA256(k, len(name)‖name‖password) with k a random per-Store secret
// that never leaves memory, valid for 60 s on the store's clock. Any change
// to the account (password, name, role, enabled, account types, lock,
// delete) drops its entries. Trade-off: for up to 60 s a correct password
// for that account is checked in microseconds instead of milliseconds
// (only a correct one: failures are never cached, so guessing always pays
// the full cost), and a process memory dump exposes HMACs of recently used
// credentials, which are useless without the in-memory secret. The fast
// path reveals through timing only that the presented credentials are
// correct and were used recently, which the presenter already knows.
//
// # IPMI key
//
// RMCP+ (RAKP) needs the user's password itself as the HMAC key, so a
// reversible copy must exist. As the architecture says, it is captured
// whenever a password is set, for every account and not only IPMI-enabled
// ones: turning IPMI on later then works without asking for the password
// again. The price: whoever holds both the record and the sealing key can
// recover every account's password, not only the IPMI ones' (the RAKP
// hash-disclosure risk of IPMI itself is in the README). It is kept only
// sealed: AES-256-GCM with the 32-byte sealing key, a random 12-byte nonce,
// and the account ID and the key-record version as associated data, so a
// sealed key cannot be moved to another account. The key is NUL-padded to 20 bytes
// before sealing (as RAKP pads it), so the ciphertext does not reveal the
// password's length. IPMIKey hands it out only while the
// account's types contain IPMI. A password longer than 20 bytes (possible
// only if the policy's MaxPasswordLength is raised above 20) has no IPMI
// key; enabling IPMI then requires setting a shorter password.
//
// # Sealing key
//
// The sealing key is the one rotd derives from the UDS and the accepted
// vendor key set and hands to an attested bmcd (GetSealingKey), given to
// the store with SetSealingKey. Boards without a root of trust (tests,
// development), and state from before it, use an interim 0600 key file
// (LoadOrCreateSealingKey) as Config.SealingKey. Each sealed key records
// the ID of the key that sealed it (SealingKeyID: the first 8 bytes of
// HMAC-SHA256(key, "ironroot sealing key id")); a sealed key without an ID
// was sealed by the interim key file. SetSealingKey re-seals every IPMI key
// it can open under the new key and saves the record before it returns
// (one record.Save: a kill leaves the old record or the new one, each
// readable with its key), so the caller may then delete the key file.
//
// Config.SealingKey may be nil: the key is not there yet (a board behind a
// root of trust opens its accounts before the gate has attested it).
// IPMIKey then fails with ErrNoSealingKey, and so does a password set,
// except one that must be changed before use (PasswordChangeRequired):
// the first boot's admin password, set before the gate has opened. It is
// stored without an IPMI key (IPMI refuses such a password anyway); the
// change, after the gate opened, captures the key. An older bmcd (N-1) parses the
// record but has only the interim key file, which no longer opens keys
// sealed under the RoT's key: IPMI logins need the password set again
// there.
//
// # Lockout
//
// Policy.LockoutThreshold failed logins, each within
// LockoutCounterResetAfter of the previous one, lock the account for
// LockoutDuration (0 = until an administrator unlocks it with Patch
// Locked=false). A threshold of 0 disables lockout. Failure counts and the
// lock are persisted, so a restart does not unlock. While locked,
// Authenticate still runs the slow hash and then returns ErrLockedOut
// whatever the password (so a locked account is no oracle for guessing)
// and does not count further failures. A disabled account returns
// ErrDisabled only for the correct password; a wrong one is
// ErrBadCredentials and counts.
//
// # Events
//
// Config.Events receives registry messages of the board's OEM registry
// (IronrootEvent.1.0.*): AccountCreated, AccountModified, AccountRemoved
// (argument: user name), LoginFailed (argument: user name; for an unknown
// user, the name if it is a syntactically valid user name, else
// "(invalid user name)", so a password typed into the user field is not
// logged) and AccountLockedOut. LoginFailed is emitted for a failure when
// the account's consecutive failure count is a multiple of
// Policy.AuthFailureLoggingThreshold (every failure when it is 0 or 1);
// failures for unknown users share one in-memory counter throttled the
// same way. The second argument is the interface ("Redfish" from
// Authenticate, "IPMI" from RecordLoginFailure). AccountUnlocked (user
// name) is emitted when an administrator clears a running lock.
// LoginSucceeded is NOT emitted here: with HTTP Basic every request
// authenticates, which would flood the bounded event log; the layers that
// start a session (Redfish POST Sessions, IPMI RAKP) log LoginSucceeded with
// their context (source address, session).
//
// # On disk
//
// Everything lives in one record, <Dir>/accounts.json, written with
// bmc/record.Save (temporary file, fsync, rename, fsync of the directory)
// before any mutating call returns. Schema version 1:
//
//	{"version": 1, "data": {
//	  "policy": {"min_password_length": 8, "max_password_length": 20,
//	    "lockout_threshold": 5, "lockout_duration_ns": 300000000000,
//	    "lockout_counter_reset_after_ns": 300000000000,
//	    "auth_failure_logging_threshold": 3},
//	  "accounts": [{"id": 2, "user_name": "admin", "role": "Administrator",
//	    "enabled": true, "password_change_required": true,
//	    "account_types": ["Redfish", "IPMI"],
//	    "password": {"alg": "pbkdf2-sha256", "iterations": 120000,
//	      "salt": "<base64 16 bytes>", "hash": "<base64 32 bytes>"},
//	    "ipmi_key": {"alg": "aes-256-gcm", "v": 1, "kid": "<base64 8 bytes>",
//	      "nonce": "<base64 12 bytes>", "sealed": "<base64>"},
//	    "failed_logins": 0, "last_failure": "<RFC 3339>",
//	    "locked_at": "<RFC 3339>", "password_expiration": "<RFC 3339>"}]}}
//
// Changes are additive only (N-1 readable: an older bmcd ignores fields it
// does not know). An older bmcd that rewrites the record writes its own
// version and drops fields it does not know; new fields must therefore
// have safe zero values.
package account
