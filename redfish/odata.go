package redfish

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// Handler results besides a plain representation.
type (
	// created answers a create: 201, Location, and the new resource as body.
	created struct {
		Location string
		Body     any
	}
	// extended is a 200 representation with @Message.ExtendedInfo added (a PATCH that
	// applied some properties and reports the others).
	extended struct {
		Body     any
		Messages []base.Message
	}
)

// odataID is a link: {"@odata.id": "/redfish/v1/..."}.
type odataID struct {
	ID string `json:"@odata.id"`
}

// collection is a resource collection (Members and Members@odata.count).
type collection struct {
	ODataID   string    `json:"@odata.id"`
	ODataType string    `json:"@odata.type"`
	Name      string    `json:"Name"`
	Count     int       `json:"Members@odata.count"`
	Members   []odataID `json:"Members"`
}

// newCollection builds a collection of the given member URIs; typ is the collection
// type name, e.g. "ManagerAccountCollection".
func newCollection(uri, typ, name string, members []string) collection {
	c := collection{ODataID: uri, ODataType: "#" + typ + "." + typ, Name: name, Members: make([]odataID, 0, len(members))}
	for _, m := range members {
		c.Members = append(c.Members, odataID{m})
	}
	c.Count = len(c.Members)
	return c
}

// Precomputed header values (the maps of net/http share them; nothing modifies them).
var (
	hdrJSON         = []string{"application/json; charset=utf-8"}
	hdrODataVersion = []string{"4.0"}
	hdrNoCache      = []string{"no-cache"}
	hdrNoSniff      = []string{"nosniff"}
	hdrDeny         = []string{"DENY"}
	hdrHSTS         = []string{"max-age=31536000; includeSubDomains"}
	hdrCSP          = []string{"default-src 'none'"}
)

// writeJSON writes a JSON response with the headers DSP0266 wants on every response.
func (s *Service) writeJSON(w http.ResponseWriter, r *request, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	setCommonHeaders(h)
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func setCommonHeaders(h http.Header) {
	h["Odata-Version"] = hdrODataVersion // canonical form of OData-Version
	h["Cache-Control"] = hdrNoCache
	h["X-Content-Type-Options"] = hdrNoSniff
	h["X-Frame-Options"] = hdrDeny
	h["Strict-Transport-Security"] = hdrHSTS
	h["Content-Security-Policy"] = hdrCSP
}

// encoders recycles the buffers (and their JSON encoders) GET representations are
// encoded into: the hot path of every client poll.
var encoders = sync.Pool{New: func() any {
	e := new(jsonEncoder)
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// jsonEncoder is a buffer with its encoder, reused across requests.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledBuffer keeps one large representation from pinning its buffer forever.
const maxPooledBuffer = 64 << 10

func (e *jsonEncoder) release() {
	if e.buf.Cap() <= maxPooledBuffer {
		e.buf.Reset()
		encoders.Put(e)
	}
}

// encode encodes v as json.Marshal would (HTML-safe escaping, no trailing newline) and
// returns the bytes, which stay valid until the encoder is released.
func (e *jsonEncoder) encode(v any) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(e.buf.Bytes(), []byte("\n")), nil
}

// serveGet runs a GET (or HEAD) handler and writes the representation with ETag, Link
// and Allow, honouring If-None-Match and `only`.
func (s *Service) serveGet(w http.ResponseWriter, r *request, res *resource, rt *route) {
	v, err := s.call(rt, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	enc := encoders.Get().(*jsonEncoder)
	defer enc.release()
	body, err := enc.encode(v)
	if err != nil {
		s.fail(w, r, fmt.Errorf("marshal %s: %w", r.URL.Path, err))
		return
	}
	if r.query.only {
		if member, ok := s.onlyMember(r, body); ok {
			body = member
		}
	}
	h := w.Header()
	h["Allow"] = res.allow
	if link := describedBy(body); link != "" {
		h["Link"] = []string{link}
	}
	etag := etagOf(body)
	h["Etag"] = []string{etag}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListMatches(inm, etag) {
		setCommonHeaders(h)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.writeJSON(w, r, http.StatusOK, body)
}

// writeResult writes the result of a non-GET handler.
func (s *Service) writeResult(w http.ResponseWriter, r *request, res *resource, result any) {
	defer func() {
		if len(r.after) == 0 {
			return
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		for _, f := range r.after {
			f()
		}
	}()
	h := w.Header()
	h["Allow"] = res.allow
	switch v := result.(type) {
	case nil:
		setCommonHeaders(h)
		w.WriteHeader(http.StatusNoContent)
		return
	case created:
		h["Location"] = []string{v.Location}
		if e, ok := v.Body.(extended); ok {
			s.writeRepresentation(w, r, http.StatusCreated, e.Body, e.Messages)
			return
		}
		s.writeRepresentation(w, r, http.StatusCreated, v.Body, nil)
	case extended:
		s.writeRepresentation(w, r, http.StatusOK, v.Body, v.Messages)
	default:
		s.writeRepresentation(w, r, http.StatusOK, v, nil)
	}
}

// writeRepresentation marshals v, splices in @Message.ExtendedInfo if msgs are given, and
// writes it with ETag and Link.
func (s *Service) writeRepresentation(w http.ResponseWriter, r *request, status int, v any, msgs []base.Message) {
	body, err := json.Marshal(v)
	if err == nil && len(msgs) > 0 {
		body, err = withExtendedInfo(body, msgs)
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("marshal %s: %w", r.URL.Path, err))
		return
	}
	h := w.Header()
	if link := describedBy(body); link != "" {
		h["Link"] = []string{link}
		h["Etag"] = []string{etagOf(body)}
	}
	s.writeJSON(w, r, status, body)
}

// withExtendedInfo adds "@Message.ExtendedInfo": msgs to a JSON object.
func withExtendedInfo(obj []byte, msgs []base.Message) ([]byte, error) {
	info, err := json.Marshal(msgs)
	if err != nil {
		return nil, err
	}
	obj = bytes.TrimRight(obj, " \n")
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return nil, errors.New("representation is not a JSON object")
	}
	out := make([]byte, 0, len(obj)+len(info)+32)
	out = append(out, obj[:len(obj)-1]...)
	if len(obj) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"@Message.ExtendedInfo":`...)
	out = append(out, info...)
	return append(out, '}'), nil
}

// etagSeed keys the ETag hash for the life of the process; it is set once at start and
// never changed.
var etagSeed = maphash.MakeSeed()

// etagOf is the strong ETag of a representation: a quoted 64-bit hash of its bytes.
// Every GET computes one, so it uses the runtime's AES-based hash (several times faster
// than SHA-256 on a 2 KB body) rather than a cryptographic one: an ETag only has to change
// when the bytes change (a collision, at 2^-64, would let one If-Match through). The seed
// is per process, so tags change when bmcd restarts, which HTTP allows.
func etagOf(body []byte) string {
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], maphash.Bytes(etagSeed, body))
	var b [2 + 16]byte
	b[0] = '"'
	hex.Encode(b[1:17], sum[:])
	b[17] = '"'
	return string(b[:])
}

// etagListMatches reports whether an If-Match / If-None-Match value ("*" or a list of
// entity tags, weak ones compared weakly) names etag.
func etagListMatches(list, etag string) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// describedBy returns the Link header naming the JSON schema of the representation's
// @odata.type ("#ComputerSystem.v1_27_0.ComputerSystem" →
// <http://redfish.dmtf.org/schemas/v1/ComputerSystem.v1_27_0.json>; rel=describedby).
// It finds the top-level @odata.type without decoding the body: the framework's
// representations put @odata.type among the first members.
func describedBy(body []byte) string {
	const key = `"@odata.type":"#`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	typ := rest[:end]
	dot := bytes.LastIndexByte(typ, '.')
	if dot <= 0 {
		return ""
	}
	return "<http://redfish.dmtf.org/schemas/v1/" + string(typ[:dot]) + ".json>; rel=describedby"
}

// readBody reads a POST/PATCH/PUT body after checking its media type and size.
func (r *request) readBody() error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, base.HeaderInvalid("Content-Type"))
		}
	}
	if r.ContentLength > maxBodySize {
		return errorf(http.StatusRequestEntityTooLarge, base.PayloadTooLarge())
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodySize+1))
	if err != nil {
		return errorf(http.StatusBadRequest, base.MalformedJSON())
	}
	if len(b) > maxBodySize {
		return errorf(http.StatusRequestEntityTooLarge, base.PayloadTooLarge())
	}
	r.body = b
	return nil
}

// checkIfMatch enforces If-Match on PATCH, PUT, DELETE and POST: the current
// representation (the resource's GET) must have one of the listed ETags, else 412.
func (s *Service) checkIfMatch(r *request, res *resource) error {
	im := r.Header.Get("If-Match")
	if im == "" {
		return nil
	}
	get := res.methods[http.MethodGet]
	if get == nil {
		return nil // actions: no representation of their own
	}
	v, err := get.h(r)
	if err != nil {
		return err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", r.URL.Path, err)
	}
	if !etagListMatches(im, etagOf(body)) {
		return errorf(http.StatusPreconditionFailed, base.PreconditionFailed())
	}
	return nil
}
