package redfish

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// query is the parsed query of a request. The service implements exactly one DSP0266
// query parameter, `only`; ProtocolFeaturesSupported says so (OnlyMemberQuery).
type query struct {
	only bool
}

// unsupportedParams are the DSP0266 query parameters without "$" that the service does
// not implement; like unknown "$" parameters they get 501 rather than being ignored.
var unsupportedParams = map[string]bool{"excerpt": true, "includeoriginofcondition": true}

// parseQuery parses a raw query string (FuzzParseQuery). Unknown plain parameters are
// ignored; any "$" parameter (the service implements none) and the unimplemented DSP0266
// parameters get 501 QueryParameterUnsupported naming the parameter; `only` with a value
// gets 400 QueryParameterValueFormatError.
func parseQuery(raw string) (query, error) {
	var q query
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, hasValue := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return query{}, errorf(http.StatusBadRequest, base.QueryParameterValueFormatError(k, k))
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return query{}, errorf(http.StatusBadRequest, base.QueryParameterValueFormatError(v, name))
		}
		switch {
		case name == "only":
			if hasValue {
				return query{}, errorf(http.StatusBadRequest, base.QueryParameterValueFormatError(value, "only"))
			}
			q.only = true
		case strings.HasPrefix(name, "$") || unsupportedParams[name]:
			return query{}, errorf(http.StatusNotImplemented, base.QueryParameterUnsupported(name))
		}
	}
	return q, nil
}

// onlyMember implements `only` (DSP0266 "only query parameter"): if the representation is
// a resource collection with exactly one member, the response is that member's
// representation, subject to the member's own privileges. Otherwise the collection is
// returned unchanged (ok false).
func (s *Service) onlyMember(r *request, body []byte) ([]byte, bool) {
	var c struct {
		Members []odataID `json:"Members"`
	}
	if json.Unmarshal(body, &c) != nil || len(c.Members) != 1 {
		return nil, false
	}
	sub, err := http.NewRequestWithContext(r.Context(), http.MethodGet, c.Members[0].ID, nil)
	if err != nil {
		return nil, false
	}
	h, pattern := s.mux.Handler(sub)
	if pattern == "" || h == nil {
		return nil, false
	}
	res := s.resources[pattern]
	if res == nil || res.methods[http.MethodGet] == nil {
		return nil, false
	}
	rt := res.methods[http.MethodGet]
	// Fill the path values of the member's pattern by matching through the mux.
	var member []byte
	inner := *r
	inner.query = query{}
	capture := http.HandlerFunc(func(_ http.ResponseWriter, hr *http.Request) {
		inner.Request = hr
		if s.authorize(&inner, rt) != nil {
			return
		}
		v, err := s.call(rt, &inner)
		if err != nil {
			return
		}
		member, _ = json.Marshal(v)
	})
	mux := http.NewServeMux()
	mux.Handle(pattern, capture)
	mux.ServeHTTP(nil, sub)
	return member, member != nil
}
