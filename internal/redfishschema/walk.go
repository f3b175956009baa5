package redfishschema

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Page is one resource fetched during a walk.
type Page struct {
	URI    string // path as linked, without fragment
	Status int
	Body   []byte
	From   string // the URI of the page that linked here ("" for the start)
}

// Getter fetches one URI (a path such as "/redfish/v1/Systems") and returns the HTTP
// status and body.
type Getter func(uri string) (status int, body []byte, err error)

// Walk fetches start and then every resource reachable through @odata.id links (and
// @Redfish.ActionInfo, and the Uri of a registry or schema file's Location) under /redfish/v1, each once, breadth first, in a stable
// order. It stops with an error after limit pages, so a service that mints endless
// links cannot hang a test. visit sees every page, in order; an error from get or visit
// ends the walk.
func Walk(get Getter, start string, limit int, visit func(Page) error) (int, error) {
	seen := map[string]bool{start: true}
	queue := []Page{{URI: start}}
	n := 0
	for len(queue) > 0 {
		if n >= limit {
			return n, fmt.Errorf("walk: more than %d resources reachable from %s (next: %s)", limit, start, queue[0].URI)
		}
		p := queue[0]
		queue = queue[1:]
		status, body, err := get(p.URI)
		if err != nil {
			return n, fmt.Errorf("GET %s (linked from %s): %w", p.URI, p.From, err)
		}
		p.Status, p.Body = status, body
		n++
		if err := visit(p); err != nil {
			return n, err
		}
		if status != 200 {
			continue
		}
		for _, l := range Links(body) {
			if !seen[l] {
				seen[l] = true
				queue = append(queue, Page{URI: l, From: p.URI})
			}
		}
	}
	return n, nil
}

// Links returns the distinct resource paths a JSON payload links to: every @odata.id,
// @Redfish.ActionInfo and Uri (MessageRegistryFile/JsonSchemaFile Location) value under /redfish/v1, fragment removed, sorted. Links that
// are not JSON strings or that leave the service are ignored.
func Links(body []byte) []string {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil
	}
	set := map[string]bool{}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, val := range x {
				if s, ok := val.(string); ok && (k == "@odata.id" || k == "@Redfish.ActionInfo" || k == "Uri") {
					if p := normalize(s); p != "" {
						set[p] = true
					}
					continue
				}
				walk(val)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func normalize(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	p := u.Path
	if p != "/redfish/v1" && !strings.HasPrefix(p, "/redfish/v1/") {
		return ""
	}
	return p
}
