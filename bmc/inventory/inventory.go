// Package inventory owns the board's identity data: manufacturer, model,
// serial numbers, SKU, part number and the system and manager UUIDs. They
// are generated once (random serials and UUIDs) on first use of a state
// directory and persisted there as a versioned record (inventory.json), so
// they stay stable across restarts. The firmware version is not stored: it
// is whatever the running firmware reports (package bmc fills it in).
package inventory

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/ironroot-bmc/ironroot/bmc/record"
)

// Inventory is the board's identity.
type Inventory struct {
	Manufacturer    string
	Model           string
	SerialNumber    string // system serial
	SKU             string
	PartNumber      string
	UUID            string // system UUID (ComputerSystem.UUID)
	BiosVersion     string
	ProcessorCount  int
	ProcessorModel  string
	MemoryGiB       int
	ChassisSerial   string
	ManagerUUID     string // BMC UUID (Manager.UUID, ServiceRoot.UUID)
	FirmwareVersion string // not persisted
}

// FileName is the inventory record's name inside the state directory.
const FileName = "inventory.json"

const recordVersion = 1

// disk is the persisted form (record version 1). Fields are only ever added.
type disk struct {
	Manufacturer   string `json:"manufacturer"`
	Model          string `json:"model"`
	SerialNumber   string `json:"serial_number"`
	SKU            string `json:"sku"`
	PartNumber     string `json:"part_number"`
	UUID           string `json:"uuid"`
	BiosVersion    string `json:"bios_version"`
	ProcessorCount int    `json:"processor_count"`
	ProcessorModel string `json:"processor_model"`
	MemoryGiB      int    `json:"memory_gib"`
	ChassisSerial  string `json:"chassis_serial"`
	ManagerUUID    string `json:"manager_uuid"`
}

// LoadOrCreate returns the inventory stored in dir/inventory.json, creating
// it (random serials and UUIDs) when absent.
func LoadOrCreate(dir string) (Inventory, error) {
	path := filepath.Join(dir, FileName)
	var d disk
	_, err := record.Load(path, &d)
	switch {
	case err == nil:
		return fromDisk(d), nil
	case !errors.Is(err, fs.ErrNotExist):
		return Inventory{}, fmt.Errorf("load inventory: %w", err)
	}
	inv, err := generate()
	if err != nil {
		return Inventory{}, fmt.Errorf("create inventory: %w", err)
	}
	if err := record.Save(path, recordVersion, toDisk(inv)); err != nil {
		return Inventory{}, fmt.Errorf("create inventory: %w", err)
	}
	return inv, nil
}

func generate() (Inventory, error) {
	serial, err := randomSerial("IRS")
	if err != nil {
		return Inventory{}, err
	}
	chassis, err := randomSerial("IRC")
	if err != nil {
		return Inventory{}, err
	}
	sysUUID, err := NewUUID()
	if err != nil {
		return Inventory{}, err
	}
	mgrUUID, err := NewUUID()
	if err != nil {
		return Inventory{}, err
	}
	return Inventory{
		Manufacturer:   "Ironroot",
		Model:          "IR-1 Simulated Server",
		SerialNumber:   serial,
		SKU:            "IR1-SIM-1S64",
		PartNumber:     "IR1-0001-A",
		UUID:           sysUUID,
		BiosVersion:    "IR1.1.0.0",
		ProcessorCount: 1,
		ProcessorModel: "Ironroot Simulated x86-64 CPU @ 2.4GHz",
		MemoryGiB:      64,
		ChassisSerial:  chassis,
		ManagerUUID:    mgrUUID,
	}, nil
}

// randomSerial returns prefix + 10 characters of [0-9A-Z] without the
// easily confused I and O.
func randomSerial(prefix string) (string, error) {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ" // 34 symbols
	b := make([]byte, 10)
	for i := range b {
		for {
			var r [1]byte
			if _, err := rand.Read(r[:]); err != nil {
				return "", fmt.Errorf("random serial: %w", err)
			}
			if int(r[0]) < 256/len(alphabet)*len(alphabet) { // no modulo bias
				b[i] = alphabet[int(r[0])%len(alphabet)]
				break
			}
		}
	}
	return prefix + string(b), nil
}

// NewUUID returns a random (version 4, RFC 9562) UUID in canonical form.
func NewUUID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("random uuid: %w", err)
	}
	u[6] = u[6]&0x0F | 0x40
	u[8] = u[8]&0x3F | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

func toDisk(i Inventory) disk {
	return disk{i.Manufacturer, i.Model, i.SerialNumber, i.SKU, i.PartNumber, i.UUID, i.BiosVersion,
		i.ProcessorCount, i.ProcessorModel, i.MemoryGiB, i.ChassisSerial, i.ManagerUUID}
}

func fromDisk(d disk) Inventory {
	return Inventory{Manufacturer: d.Manufacturer, Model: d.Model, SerialNumber: d.SerialNumber, SKU: d.SKU,
		PartNumber: d.PartNumber, UUID: d.UUID, BiosVersion: d.BiosVersion, ProcessorCount: d.ProcessorCount,
		ProcessorModel: d.ProcessorModel, MemoryGiB: d.MemoryGiB, ChassisSerial: d.ChassisSerial, ManagerUUID: d.ManagerUUID}
}
