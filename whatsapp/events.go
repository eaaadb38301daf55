package whatsapp

import (
	"time"

	"github.com/apiws/apiws"
)

// Event is something a Connector reports: a *StateChange, a *Receipt, an
// *Inbound, what someone did to a message of a chat (*Reacted, *Edited,
// *Revoked, *PollVoted), or a hidden number's phone (*LIDLearned). The set
// is closed; switch on the type.
type Event interface {
	// Number returns the id of the apiws number the event is about.
	Number() string
	isEvent()
}

// StateChange reports that a number's connection state changed.
type StateChange struct {
	NumberID string
	Status   apiws.NumberStatus
	// Reason says why, in words, when WhatsApp gave one (a logout reason,
	// a ban, a connect failure).
	Reason string
	// Code is WhatsApp's numeric reason (a ban or connect failure code), 0
	// when there is none.
	Code int
	// BanExpiresAt is when a temporary ban ends, for BANNED; nil if unknown.
	BanExpiresAt *time.Time
	// Permanent means WhatsApp will not let the number back without action:
	// the connector does not reconnect by itself.
	Permanent bool
	// PushName is the number's name in WhatsApp, when the change tells it.
	PushName string
	// Notice means the status is unchanged and the change is news about
	// the connection (keep-alive pings failing or answered again, a new
	// push name): it is told to subscribers, not recorded as a change.
	Notice bool
	At     time.Time
}

// Receipt reports that outgoing messages moved on: delivered, read, played,
// or failed after being sent.
type Receipt struct {
	NumberID string
	// MessageIDs are the WhatsApp ids of the messages (SendResult.WAMessageID).
	MessageIDs []string
	// Status is DELIVERED, READ, PLAYED or FAILED. Receipts can arrive late
	// or twice; apply them with apiws.MessageStatus.Advances.
	Status apiws.MessageStatus
	// Error explains a FAILED receipt.
	Error *apiws.MessageError
	At    time.Time
}

// Inbound is a message received by a number. Its content is in transit only:
// apiws streams it and never stores it.
type Inbound struct {
	NumberID    string
	WAMessageID string
	// From is the sender in E.164 form; empty if it could not be resolved
	// (a LID with no known phone number).
	From string
	// FromLID is the sender's hidden-number id (the user part of its LID),
	// when WhatsApp gave one; it is all there is of a sender whose phone
	// is not known.
	FromLID string
	// PushName is the name the sender set in WhatsApp.
	PushName string
	// Group is the JID of the group the message was written in; "" in a
	// one-to-one chat.
	Group string
	Kind  apiws.MessageKind
	// Text is the body of a text message, the caption of media or of a
	// live location, or the emoji of a reaction.
	Text string
	// Media describes an attachment (a sticker too); its bytes are not
	// downloaded.
	Media *InboundMedia
	// Location is the point of a LOCATION.
	Location *apiws.Location
	// Contacts are the cards of a CONTACT, each with its vCard.
	Contacts []apiws.ContactCard
	// Poll is the poll a POLL message opens.
	Poll *apiws.Poll
	// QuotedID is the WhatsApp id of the message this one quotes, if any.
	QuotedID string
	// Mentions are the people the message mentions.
	Mentions []apiws.Peer
	// Error says why the message has no content: UNDECRYPTABLE, when the
	// number could not decrypt it (Kind is then OTHER).
	Error *apiws.MessageError
	At    time.Time
}

// Content is the message's content as the API shows it.
func (e *Inbound) Content() *apiws.MessageContent {
	c := apiws.ContentOf(e.Kind, e.Text, e.Media)
	c.Location, c.Contacts, c.Poll = e.Location, e.Contacts, e.Poll
	c.QuotedWAMessageID = apiws.NilIfEmpty(e.QuotedID)
	if len(e.Mentions) > 0 {
		c.Mentions = e.Mentions
	}
	return c
}

// InboundMedia describes a received attachment: the domain's, so that the
// messaging service passes it on as it is.
type InboundMedia = apiws.InboundMedia

// Reacted reports a reaction to a message of one of a number's chats.
type Reacted struct {
	NumberID string
	// Group is the chat's group JID; "" in a one-to-one chat.
	Group string
	// WAMessageID is the reaction's own WhatsApp id.
	WAMessageID string
	// TargetID is the WhatsApp id of the message reacted to.
	TargetID string
	// From and FromLID are who reacted, as in Inbound; FromMe says it was
	// the number itself, from another of its devices.
	From, FromLID string
	FromMe        bool
	// Emoji is the reaction; empty when it was removed.
	Emoji string
	At    time.Time
}

// Edited reports that the sender of a message changed its text (or a
// caption).
type Edited struct {
	NumberID    string
	WAMessageID string
	// Group is the chat's group JID; "" in a one-to-one chat.
	Group string
	// TargetID is the WhatsApp id of the message edited.
	TargetID      string
	From, FromLID string
	FromMe        bool
	// Text is the new text.
	Text string
	At   time.Time
}

// Revoked reports that the sender of a message deleted it for everyone.
type Revoked struct {
	NumberID    string
	WAMessageID string
	// Group is the chat's group JID; "" in a one-to-one chat.
	Group string
	// TargetID is the WhatsApp id of the message deleted.
	TargetID      string
	From, FromLID string
	FromMe        bool
	At            time.Time
}

// PollVoted reports a vote on a poll.
type PollVoted struct {
	NumberID    string
	WAMessageID string
	// Group is the chat's group JID; "" in a one-to-one chat.
	Group string
	// PollID is the WhatsApp id of the poll's message.
	PollID        string
	From, FromLID string
	FromMe        bool
	// Options are the names of the options now chosen (empty: the vote was
	// withdrawn); nil when the Connector could not tell them (it no longer
	// knows the poll's options).
	Options []string
	At      time.Time
}

// LIDLearned reports that WhatsApp told a number the phone behind a
// hidden-number id: messages of the number with that LID and no phone
// can show it.
type LIDLearned struct {
	NumberID string
	// LID is the user part of the LID; Phone is in E.164 form.
	LID, Phone string
}

// Number returns the number the event is about.
func (e *StateChange) Number() string { return e.NumberID }

// Number returns the number the event is about.
func (e *Receipt) Number() string { return e.NumberID }

// Number returns the number the event is about.
func (e *Inbound) Number() string { return e.NumberID }

// Number returns the number the event is about.
func (e *Reacted) Number() string { return e.NumberID }

// Number returns the number the event is about.
func (e *Edited) Number() string { return e.NumberID }

// Number returns the number the event is about.
func (e *Revoked) Number() string { return e.NumberID }

// Number returns the number the event is about.
func (e *PollVoted) Number() string { return e.NumberID }

// Number returns the number the event is about.
func (e *LIDLearned) Number() string { return e.NumberID }

func (*StateChange) isEvent() {}
func (*Receipt) isEvent()     {}
func (*Inbound) isEvent()     {}
func (*Reacted) isEvent()     {}
func (*Edited) isEvent()      {}
func (*Revoked) isEvent()     {}
func (*PollVoted) isEvent()   {}
func (*LIDLearned) isEvent()  {}

// PairEvent is one step of a pairing: exactly one of QR, Linked, Success
// and Failure is set.
type PairEvent struct {
	QR *QRCode
	// Linked says the phone accepted the link: the device has its keys and
	// is connecting (its Status is CONNECTING). Success or Failure follows.
	Linked  *PairSuccess
	Success *PairSuccess
	Failure *PairFailure
}

// QRCode is a pairing QR code, valid until ExpiresAt, when the next one (or
// the outcome) follows.
type QRCode struct {
	// Code is the text the QR code encodes.
	Code string
	// PNG is the QR code as an image: "data:image/png;base64,...".
	PNG       string
	ExpiresAt time.Time
}

// PairSuccess is a successful pairing: the number is linked and connecting.
type PairSuccess struct {
	// Phone is the number's E.164 phone number.
	Phone string
	// JID is the device's WhatsApp address; keep it in apiws.Number.JID,
	// Connect finds the device keys by it.
	JID string
	// PushName is the name set on the phone; may be empty at first.
	PushName string
	// Status is how the number stands: in Linked, CONNECTING; in Success,
	// CONNECTED, or DISCONNECTED (with Reason) when its first connection did
	// not come up in time. Empty means CONNECTED.
	Status apiws.NumberStatus
	Reason string
}

// PairFailureReason says why a pairing failed.
type PairFailureReason string

// Pairing failure reasons.
const (
	// PairTimeout: every QR code expired unscanned.
	PairTimeout PairFailureReason = "TIMEOUT"
	// PairRejected: WhatsApp or the phone refused the link.
	PairRejected PairFailureReason = "REJECTED"
	// PairCancelled: the caller cancelled (ctx) or the connector closed.
	PairCancelled PairFailureReason = "CANCELLED"
	// PairClientOutdated: WhatsApp refuses this client version.
	PairClientOutdated PairFailureReason = "CLIENT_OUTDATED"
	// PairError: anything else (network, storage).
	PairError PairFailureReason = "ERROR"
)

// PairFailure is a failed pairing.
type PairFailure struct {
	Reason  PairFailureReason
	Message string
}
