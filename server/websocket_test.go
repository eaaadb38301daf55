package server

import (
	"encoding/json"
	"testing"
)

// Shaped like gqlgen's websocket messages (both protocols).
type kind string

func (k kind) MarshalText() ([]byte, error) { return []byte(k), nil }

type message struct {
	Payload json.RawMessage `json:"payload,omitempty"`
	ID      string          `json:"id,omitempty"`
	Type    kind            `json:"type"`
	noOp    bool            // gqlgen's have an unexported field too
}

// Not shaped like them: encoding/json's.
type (
	extraField struct {
		Payload json.RawMessage `json:"payload,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    kind            `json:"type"`
		Label   string          `json:"label"`
	}
	otherTag struct {
		Payload json.RawMessage `json:"data,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    kind            `json:"type"`
	}
	ownEncoding message
)

func (ownEncoding) MarshalJSON() ([]byte, error) { return []byte(`{}`), nil }

func TestEnvelopeIsWhatEncodingJSONWrites(t *testing.T) {
	for _, m := range []message{
		{Payload: json.RawMessage(`{"data":{"messageStatus":{"cursor":"7","at":"2026-11-26T00:00:00.000Z"}}}`), ID: "1", Type: "next"},
		{Payload: json.RawMessage(`[{"message":"a \u003cb\u003e \"quoted\" error","extensions":{"code":"FORBIDDEN"}}]`), ID: `sub "<&>" ☃`, Type: "error"},
		{ID: "2", Type: "complete"},
		{Type: "ping", noOp: true},
		{Payload: json.RawMessage(`null`), Type: "ka"},
	} {
		for _, v := range []any{m, &m} {
			got, ok := encodeEnvelope(v)
			want, err := json.Marshal(v)
			if !ok || err != nil || string(got) != string(want) {
				t.Errorf("%+v: got %s (%v), want %s", m, got, ok, want)
			}
		}
	}
	for _, v := range []any{
		extraField{Type: "next"}, otherTag{Type: "next"}, ownEncoding{Type: "next"}, &ownEncoding{Type: "next"},
		map[string]string{"type": "next"}, "next", nil, (*message)(nil),
	} {
		if b, ok := encodeEnvelope(v); ok {
			t.Errorf("%#v taken as a message: %s", v, b)
		}
	}
}
