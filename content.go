package apiws

// MessageContent is what a message says, in transit only: apiws keeps it
// no longer than it takes to hand it over (see DESIGN: Transit). Its JSON
// names are the GraphQL ones: webhook bodies carry it as it is.
type MessageContent struct {
	Text     *string       `json:"text"`
	Media    *MediaInfo    `json:"media"`
	Location *Location     `json:"location"`
	Contacts []ContactCard `json:"contacts"`
	Poll     *Poll         `json:"poll"`
	// QuotedWAMessageID is the WhatsApp id of the message it quotes.
	QuotedWAMessageID *string `json:"quotedWaMessageId"`
	// Mentions is never nil once decoded (an empty list in GraphQL).
	Mentions []Peer `json:"mentions"`
	// Emoji (of a REACTION) and Votes (the options a POLL_VOTE chose) are
	// what those events carry in transit. They are not fields of GraphQL's
	// MessageContent: unset, they are left out of its JSON.
	Emoji *string   `json:"emoji,omitempty"`
	Votes *[]string `json:"votes,omitempty"`
}

// MediaInfo describes an attachment.
type MediaInfo struct {
	Kind      MessageKind `json:"kind"`
	MimeType  string      `json:"mimeType"`
	FileName  *string     `json:"fileName"`
	Caption   *string     `json:"caption"`
	SizeBytes int         `json:"sizeBytes"`
	// URL downloads an inbound file while its content is in transit (a
	// signed MediaLinks URL).
	URL *string `json:"url"`
	// Ref is what the connector needs to download an inbound file
	// (InboundMedia.Ref): never shown, and kept apart from the content,
	// sealed, until the transit TTL.
	Ref []byte `json:"-"`
}

// Location is a point on the map.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      *string `json:"name"`
	Address   *string `json:"address"`
}

// ContactCard is one shared contact.
type ContactCard struct {
	Name   string   `json:"name"`
	Phones []string `json:"phones"`
	VCard  string   `json:"vcard"`
}

// Poll is a question with options to choose from.
type Poll struct {
	Question        string   `json:"question"`
	Options         []string `json:"options"`
	SelectableCount int      `json:"selectableCount"`
}

// Peer is someone in a chat: WhatsApp may hide the phone behind a LID.
type Peer struct {
	Phone *string `json:"phone"`
	LID   *string `json:"lid"`
}

// ContentOf returns the content of an inbound message as the connector
// gave it: its text (the caption when it carries media) and its media.
func ContentOf(kind MessageKind, text string, media *InboundMedia) *MessageContent {
	c := &MessageContent{Mentions: []Peer{}}
	if media == nil {
		c.Text = NilIfEmpty(text)
		return c
	}
	c.Media = &MediaInfo{Kind: kind, MimeType: media.MimeType, FileName: NilIfEmpty(media.FileName),
		Caption: NilIfEmpty(media.Caption), SizeBytes: int(media.Size), Ref: media.Ref}
	c.Text = c.Media.Caption
	return c
}

// TimeLayout is how the API writes a point in time: RFC 3339 in UTC, to
// the millisecond (the GraphQL Time scalar, webhook bodies).
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"
