package messaging

import (
	"encoding/json"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/whatsapp"
)

// content is what the outbox holds for a message, sealed: everything needed
// to transmit it, and nothing kept after.
type content struct {
	Kind  apiws.MessageKind `json:"kind"`
	Text  string            `json:"text,omitempty"`
	Media *whatsapp.Media   `json:"media,omitempty"`
	// Location, Contacts (each with its vCard) and Poll are the content of
	// the kinds of the same names.
	Location *apiws.Location     `json:"location,omitempty"`
	Contacts []apiws.ContactCard `json:"contacts,omitempty"`
	Poll     *apiws.Poll         `json:"poll,omitempty"`
	// ReplyTo is the message it quotes; Mentions the phones it mentions.
	ReplyTo  *whatsapp.Quote `json:"replyTo,omitempty"`
	Mentions []string        `json:"mentions,omitempty"`
	// Group is the JID of the group it goes to, instead of a phone.
	Group string `json:"group,omitempty"`
}

func (c *content) marshal() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic("marshal content: " + err.Error())
	}
	return b
}

func unmarshalContent(b []byte) (*content, error) {
	c := new(content)
	return c, json.Unmarshal(b, c)
}
