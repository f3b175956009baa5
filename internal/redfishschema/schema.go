// Package redfishschema is test support for Redfish conformance checks: it loads the
// DMTF Redfish JSON schema bundle from a folder (../shared/redfish/json-schema), validates
// payloads against the versioned schema their @odata.type names, and walks a service's
// resource tree by following every @odata.id.
//
// It owns no service code and knows nothing of ironroot's handlers: it only sees bytes a
// client would see. The bundle keeps only the latest version of each schema, so a
// reference to a missing Foo.vX_Y_Z.json is served by the bundle's latest Foo.v*.json,
// and references into SNIA Swordfish schemas (not in the bundle) resolve to schemas that
// accept anything.
package redfishschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Prefix is the URI prefix of every DMTF Redfish schema; the bundle folder mirrors it.
const Prefix = "http://redfish.dmtf.org/schemas/v1/"

// SwordfishPrefix is the URI prefix of SNIA Swordfish schemas, stubbed by the loader.
const SwordfishPrefix = "http://redfish.dmtf.org/schemas/swordfish/"

var (
	versionedFile = regexp.MustCompile(`^([A-Za-z0-9]+)\.v(\d+)_(\d+)_(\d+)\.json$`)
	swordfishRef  = regexp.MustCompile(`"(http://redfish\.dmtf\.org/schemas/swordfish/[^"#]+)#/definitions/([A-Za-z0-9_]+)"`)
	// odataType is "#Namespace.vX_Y_Z.Type" or "#Namespace.Type".
	odataType = regexp.MustCompile(`^#([A-Za-z0-9]+)(?:\.(v\d+_\d+_\d+))?\.([A-Za-z0-9]+)$`)
)

// Validator validates Redfish payloads against the schema bundle in one folder.
// It is safe for concurrent use.
type Validator struct {
	dir       string
	latest    map[string]string              // schema family ("ComputerSystem") → latest versioned file
	swordfish map[string]map[string]struct{} // stubbed Swordfish file URL → definition names referenced

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	cache    map[string]*jsonschema.Schema // location → compiled schema
}

// New indexes the bundle in dir. It fails when dir holds no Redfish schema.
func New(dir string) (*Validator, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read schema folder: %w", err)
	}
	v := &Validator{
		dir:       dir,
		latest:    map[string]string{},
		swordfish: map[string]map[string]struct{}{},
		cache:     map[string]*jsonschema.Schema{},
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		n++
		if m := versionedFile.FindStringSubmatch(name); m != nil {
			if cur, ok := v.latest[m[1]]; !ok || versionLess(cur, name) {
				v.latest[m[1]] = name
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", name, err)
		}
		for _, m := range swordfishRef.FindAllSubmatch(data, -1) {
			u := string(m[1])
			if v.swordfish[u] == nil {
				v.swordfish[u] = map[string]struct{}{}
			}
			v.swordfish[u][string(m[2])] = struct{}{}
		}
	}
	if n == 0 || len(v.latest) == 0 {
		return nil, fmt.Errorf("schema folder %s holds no versioned Redfish schema (*.vX_Y_Z.json)", dir)
	}
	v.compiler = v.newCompiler()
	return v, nil
}

func (v *Validator) newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.UseLoader(loader{v})
	return c
}

// versionLess reports whether versioned file a is older than versioned file b of the same family.
func versionLess(a, b string) bool {
	ma, mb := versionedFile.FindStringSubmatch(a), versionedFile.FindStringSubmatch(b)
	for i := 2; i <= 4; i++ {
		x, _ := strconv.Atoi(ma[i])
		y, _ := strconv.Atoi(mb[i])
		if x != y {
			return x < y
		}
	}
	return false
}

// Latest returns the newest versioned schema file of a family ("ComputerSystem" →
// "ComputerSystem.v1_27_0.json") and whether the bundle has one.
func (v *Validator) Latest(family string) (string, bool) {
	f, ok := v.latest[family]
	return f, ok
}

// Resolve maps a schema file name as referenced to the file in the bundle that serves
// it: the file itself when present, else the latest version of the same family.
func (v *Validator) Resolve(name string) (string, error) {
	if _, err := os.Stat(filepath.Join(v.dir, name)); err == nil {
		return name, nil
	}
	if !strings.HasSuffix(name, ".json") {
		if _, err := os.Stat(filepath.Join(v.dir, name+".json")); err == nil {
			return name + ".json", nil
		}
	}
	if m := versionedFile.FindStringSubmatch(name); m != nil {
		if f, ok := v.latest[m[1]]; ok {
			return f, nil
		}
	}
	return "", fmt.Errorf("schema %s: %w", name, fs.ErrNotExist)
}

type loader struct{ v *Validator }

func (l loader) Load(url string) (any, error) {
	switch {
	case strings.HasPrefix(url, Prefix):
		asked := strings.TrimPrefix(url, Prefix)
		name, err := l.v.Resolve(asked)
		if err != nil {
			return nil, err
		}
		doc, err := l.v.readDoc(name)
		if err != nil {
			return nil, err
		}
		if name == asked {
			return doc, nil
		}
		// A missing older version: a document whose every definition refers to the same
		// definition of the latest file, so all versions share one compiled schema.
		defs := map[string]any{}
		if m, ok := doc.(map[string]any); ok {
			if d, ok := m["definitions"].(map[string]any); ok {
				for k := range d {
					defs[k] = map[string]any{"$ref": Prefix + name + "#/definitions/" + k}
				}
			}
		}
		return map[string]any{"$schema": draft7, "definitions": defs}, nil
	case strings.HasPrefix(url, SwordfishPrefix):
		defs := map[string]any{}
		for name := range l.v.swordfish[url] {
			defs[name] = map[string]any{}
		}
		return map[string]any{"$schema": draft7, "definitions": defs}, nil
	}
	return nil, fmt.Errorf("schema %s: not a Redfish schema URL", url)
}

const draft7 = "http://json-schema.org/draft-07/schema#"

func (v *Validator) readDoc(name string) (any, error) {
	data, err := os.ReadFile(filepath.Join(v.dir, name))
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	return doc, nil
}

// Compile compiles one definition of one bundle file ("ComputerSystem.v1_27_0.json",
// "ComputerSystem").
func (v *Validator) Compile(file, definition string) (*jsonschema.Schema, error) {
	loc := Prefix + file + "#/definitions/" + definition
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.cache[loc]; ok {
		return s, nil
	}
	s, err := v.compiler.Compile(loc)
	if err != nil {
		// A failed compile may leave the compiler half-filled; start over next time.
		v.compiler = v.newCompiler()
		return nil, fmt.Errorf("compile %s: %w", loc, err)
	}
	v.cache[loc] = s
	return s, nil
}

// CompileFile compiles a whole bundle file (its root schema).
func (v *Validator) CompileFile(file string) (*jsonschema.Schema, error) {
	loc := Prefix + file
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.cache[loc]; ok {
		return s, nil
	}
	s, err := v.compiler.Compile(loc)
	if err != nil {
		v.compiler = v.newCompiler()
		return nil, fmt.Errorf("compile %s: %w", loc, err)
	}
	v.cache[loc] = s
	return s, nil
}

// SchemaFor names the schema file and definition for an @odata.type:
// "#ComputerSystem.v1_27_0.ComputerSystem" → ("ComputerSystem.v1_27_0.json", "ComputerSystem");
// "#ComputerSystemCollection.ComputerSystemCollection" → ("ComputerSystemCollection.json", ...).
// A versioned type must name a file that the bundle has: payloads are to use the latest
// versions, so a type naming an older version is an error, not silently upgraded.
func (v *Validator) SchemaFor(typ string) (file, definition string, err error) {
	m := odataType.FindStringSubmatch(typ)
	if m == nil {
		return "", "", fmt.Errorf("@odata.type %q is not #Namespace[.vX_Y_Z].Type", typ)
	}
	file = m[1] + ".json"
	if m[2] != "" {
		file = m[1] + "." + m[2] + ".json"
	}
	if _, err := os.Stat(filepath.Join(v.dir, file)); err != nil {
		hint := ""
		if l, ok := v.latest[m[1]]; ok {
			hint = " (the bundle's latest is " + l + ")"
		}
		return "", "", fmt.Errorf("@odata.type %q: schema %s not in the bundle%s", typ, file, hint)
	}
	return file, m[3], nil
}

// Validate checks a payload against the schema named by its @odata.type. The error
// names the schema and carries the validator's explanation.
func (v *Validator) Validate(payload []byte) error {
	var head struct {
		Type string `json:"@odata.type"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return fmt.Errorf("payload is not a JSON object: %w", err)
	}
	if head.Type == "" {
		return errors.New("payload has no @odata.type")
	}
	file, def, err := v.SchemaFor(head.Type)
	if err != nil {
		return err
	}
	return v.ValidateAgainst(payload, file, def)
}

// ValidateAgainst checks a payload against one definition of one bundle file.
func (v *Validator) ValidateAgainst(payload []byte, file, definition string) error {
	s, err := v.Compile(file, definition)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("payload is not JSON: %w", err)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("%s#/definitions/%s: %w", file, definition, err)
	}
	return nil
}
