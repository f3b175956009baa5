package rotlink

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, m := range []Message{
		Request(OpGetSealingKey),
		Response(OpGetStatus, []byte(`{"state":"running","svn":3,"svn_floor":2}`)),
		Failure(OpReportHealthy, StatusFailed, "no BMC is running"),
	} {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(b)
		if err != nil || got.Op != m.Op || got.Status != m.Status || !bytes.Equal(got.Body, m.Body) {
			t.Fatalf("%+v → %+v, %v", m, got, err)
		}
	}
	_, err := Failure(OpReportHealthy, StatusFailed, "no BMC").Check(OpReportHealthy)
	var re *ResponseError
	if !errors.As(err, &re) || re.Reason != "no BMC" {
		t.Fatalf("%v", err)
	}
	if _, err := Response(OpGetStatus, nil).Check(OpGetSealingKey); err == nil {
		t.Fatal("wrong op accepted")
	}
	if _, err := Parse([]byte{1, 1, 0, 1}); err == nil {
		t.Fatal("reserved byte accepted")
	}
	if _, err := Parse([]byte{1, 1, 3, 0}); err == nil {
		t.Fatal("request with a status accepted")
	}
	if _, err := DecodeSealingKey(make([]byte, 31)); err == nil {
		t.Fatal("short key accepted")
	}
}

// FuzzParse: no payload makes the decoders panic, and what parses
// re-encodes to the same bytes.
func FuzzParse(f *testing.F) {
	for _, m := range []Message{Request(OpGetStatus), Response(OpGetStatus, []byte(`{"state":"running"}`)), Failure(OpGetBootLog, StatusFailed, "x")} {
		b, _ := m.Marshal()
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%x → %+v → %x, %v", b, m, again, err)
		}
		for _, op := range []Op{OpReportHealthy, OpGetStatus, OpGetBootLog, OpGetSealingKey} {
			if body, err := m.Check(op); err == nil {
				_, _ = DecodeStatus(body)
				_, _ = DecodeSealingKey(body)
			}
		}
		_ = m.Op.String()
		_ = m.Status.String()
	})
}
