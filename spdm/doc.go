// Package spdm implements the Security Protocol and Data Model (SPDM) of
// DMTF DSP0274 versions 1.2 and 1.3 and secured messages of DSP0277 1.2 as
// bound to MCTP (DSP0275/DSP0276): a requester (client) and a responder
// (server) byte-exact with DMTF libspdm, plus the socket framing of DMTF
// spdm-emu.
//
// The package owns the SPDM protocol: message encoding (clause 10), the
// transcripts M1/L1/TH (clauses 10.8, 10.11, 12, 15), the signing context
// (clause 15), the key schedule (clause 12), secured messages (DSP0277),
// certificate chain handling (clause 10.6 / 10.7 and Annex on certificate
// models), CHUNK_SEND/CHUNK_GET (clause 10.20/10.21) and the transport
// framing. It must not know about the BMC, the gate policy or any other part
// of this repository: it imports only the standard library and
// golang.org/x/crypto.
//
// Each file names the DSP0274/DSP0277 clauses it implements at its top.
package spdm
