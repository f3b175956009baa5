// This file implements the SPDMVersion field and version negotiation of
// DSP0274 1.2/1.3 clause 10.3 (GET_VERSION / VERSION, VersionNumberEntry).

package spdm

import "fmt"

// Version is the one-byte SPDMVersion field of every SPDM message header:
// major version in the high nibble, minor in the low nibble.
type Version uint8

// Versions defined by DSP0274. Only 1.2 and 1.3 are spoken by this package;
// the others appear in a peer's VERSION entries and in negotiation.
const (
	Version10 Version = 0x10
	Version11 Version = 0x11
	Version12 Version = 0x12
	Version13 Version = 0x13
	Version14 Version = 0x14
)

// SupportedVersions lists the versions this package implements, highest first.
var SupportedVersions = []Version{Version13, Version12}

// String returns the version as "1.2".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v>>4, v&0xF) }

// Major returns the major version number.
func (v Version) Major() uint8 { return uint8(v) >> 4 }

// Minor returns the minor version number.
func (v Version) Minor() uint8 { return uint8(v) & 0xF }

// VersionNumberEntry is one 16-bit entry of VERSION (DSP0274 table
// "VersionNumberEntry definition"): Major(4) Minor(4) UpdateVersion(4) Alpha(4),
// most significant nibble first.
type VersionNumberEntry uint16

// Version returns the major/minor part of the entry.
func (e VersionNumberEntry) Version() Version { return Version(e >> 8) }

// EntryFor returns the VersionNumberEntry for v with update and alpha zero.
func EntryFor(v Version) VersionNumberEntry { return VersionNumberEntry(uint16(v) << 8) }

// highestCommon returns the highest version present both in ours and in
// the peer's entries.
func highestCommon(ours []Version, peer []VersionNumberEntry) (Version, bool) {
	var best Version
	found := false
	for _, e := range peer {
		pv := e.Version()
		for _, o := range ours {
			if o == pv && (!found || pv > best) {
				best, found = pv, true
			}
		}
	}
	return best, found
}
