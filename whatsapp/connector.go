// Package whatsapp connects WhatsApp numbers and moves messages through
// them. The rest of apiws sees only the Connector interface; behind it run
// either whatsmeow (real WhatsApp) or the sandbox (a simulation for
// integrators and tests).
package whatsapp

import (
	"context"
	"errors"
	"time"

	"github.com/apiws/apiws"
)

// Connector connects WhatsApp numbers and moves messages through them. One
// Connector serves many numbers; its methods are safe for concurrent use.
// Connection changes, receipts and inbound messages are reported to the
// EventHandler given to the Connector's constructor.
type Connector interface {
	// PairQR starts pairing a new device for n and returns a channel of
	// PairEvents: QR codes as they rotate, Linked once the phone accepted
	// the link, then exactly one outcome (Success once the linked device is
	// connected or gave up for now, or Failure), then the channel is closed. Cancelling ctx aborts the
	// pairing; the outcome is then a Failure with reason CANCELLED, which a
	// reader that has stopped reading may never see. Only one pairing per
	// number runs at a time: a second PairQR for n fails with ErrPairing.
	PairQR(ctx context.Context, n *apiws.Number) (<-chan PairEvent, error)
	// PairPhone asks WhatsApp for a pairing code to type on the phone whose
	// E.164 number is phone, as an alternative to scanning the QR code. It
	// needs a pairing for n started by PairQR and still under way (else
	// ErrNoPairing); the outcome arrives on that PairQR channel. The code is
	// 8 characters, shown as "ABCD-EFGH".
	PairPhone(ctx context.Context, n *apiws.Number, phone string) (string, error)
	// Connect (re)connects the already paired number n. It returns once the
	// connection is under way; CONNECTED (or a failure) arrives as a
	// StateChange.
	Connect(ctx context.Context, n *apiws.Number) error
	// Disconnect closes n's connection and keeps its device keys, so Connect
	// can resume it. Disconnecting a number that is not connected is a no-op.
	// Its DISCONNECTED StateChange has been handled when it returns (unless
	// ctx ended first), after every earlier one of n's, so no older report
	// can follow it.
	Disconnect(ctx context.Context, n *apiws.Number) error
	// Logout unlinks n's device from WhatsApp and deletes its device keys; n
	// must be paired again to be used. Its LOGGED_OUT StateChange has been
	// handled when it returns, as Disconnect's.
	Logout(ctx context.Context, n *apiws.Number) error
	// IsOnWhatsApp reports whether the E.164 number phone has WhatsApp,
	// asking through n.
	IsOnWhatsApp(ctx context.Context, n *apiws.Number, phone string) (bool, error)
	// Lookup asks through n whether each phone (E.164) has WhatsApp, and
	// for the LIDs of those that do. The results are in the order of
	// phones, one per phone. A number not connected gives ErrNotConnected,
	// a phone not in E.164 form ErrInvalidPhone. Answers are cached and
	// requests paced per number, shared with Send's lookups.
	Lookup(ctx context.Context, n *apiws.Number, phones []string) ([]LookupResult, error)
	// Send transmits msg through n. msg.ID is the WhatsApp message id chosen
	// when the message was queued and reused on every retry, so a retry is
	// the same message to WhatsApp. Every error is a *SendError whose Code
	// is one of the stable message error codes and whose Retryable says
	// whether sending again may succeed.
	Send(ctx context.Context, n *apiws.Number, msg OutgoingMessage) (SendResult, error)
	// MarkRead sends a read receipt for inbound messages of one chat
	// through n. A number not connected gives ErrNotConnected.
	MarkRead(ctx context.Context, n *apiws.Number, r ReadReceipt) error
	// SendChatPresence shows state in n's chat with phone (E.164), or in
	// the group whose JID phone is; WhatsApp
	// ends TYPING and RECORDING by itself after about 25 s. A number not
	// connected gives ErrNotConnected.
	SendChatPresence(ctx context.Context, n *apiws.Number, phone string, state ChatState) error
	// Edit replaces the text (the caption, for media) of m, a message n
	// sent, with text, and returns when WhatsApp accepted the edit. Errors
	// are *SendError, as Send's.
	Edit(ctx context.Context, n *apiws.Number, m MessageRef, text string) (time.Time, error)
	// Revoke deletes m, a message n sent, for everyone, and returns when
	// WhatsApp accepted it. Errors are *SendError, as Send's.
	Revoke(ctx context.Context, n *apiws.Number, m MessageRef) (time.Time, error)
	// Download fetches and decrypts a file n received, described by ref
	// (InboundMedia.Ref of its Inbound). A number not connected gives
	// ErrNotConnected; a file WhatsApp no longer has, ErrMediaGone.
	Download(ctx context.Context, n *apiws.Number, ref []byte) ([]byte, error)

	// Groups returns every group n is in. Like every group call, it gives
	// ErrNotConnected for a number not connected.
	Groups(ctx context.Context, n *apiws.Number) ([]GroupInfo, error)
	// Group returns the group with the JID, or ErrGroupNotFound when it
	// does not exist or n is not in it.
	Group(ctx context.Context, n *apiws.Number, jid string) (GroupInfo, error)
	// CreateGroup creates a group named name with n as its super admin and
	// the phones (E.164) as members; phones WhatsApp cannot add are left
	// out. It returns the group as created.
	CreateGroup(ctx context.Context, n *apiws.Number, name string, phones []string) (GroupInfo, error)
	// SetGroupName renames a group; only admins may (ErrNotAdmin).
	SetGroupName(ctx context.Context, n *apiws.Number, jid, name string) error
	// SetGroupTopic sets a group's topic; an empty topic removes it.
	SetGroupTopic(ctx context.Context, n *apiws.Number, jid, topic string) error
	// UpdateGroupParticipants adds, removes, promotes or demotes the
	// phones (E.164); only admins may (ErrNotAdmin).
	UpdateGroupParticipants(ctx context.Context, n *apiws.Number, jid string, action ParticipantAction, phones []string) error
	// LeaveGroup makes n leave a group.
	LeaveGroup(ctx context.Context, n *apiws.Number, jid string) error
	// GroupInviteLink returns a group's invite link; reset revokes the old
	// link first. Only admins may (ErrNotAdmin).
	GroupInviteLink(ctx context.Context, n *apiws.Number, jid string, reset bool) (string, error)
	// JoinGroup makes n join the group of an invite link
	// (https://chat.whatsapp.com/...) and returns its JID; a link WhatsApp
	// does not know gives ErrInviteInvalid.
	JoinGroup(ctx context.Context, n *apiws.Number, link string) (string, error)
}

// MessageRef names a message of one of a number's chats: its WhatsApp id
// and the other party, by phone (E.164) or, when WhatsApp hid the phone,
// by its LID.
type MessageRef struct {
	ID      string
	Chat    string
	ChatLID string
}

// EventHandler receives a Connector's events. It may be called from several
// goroutines at once, but the events of one message (or of one number's
// connection) arrive in order. It should return quickly: a Connector may
// wait for it before reading more from WhatsApp.
type EventHandler func(Event)

// Errors returned by the pairing methods, for use with errors.Is.
var (
	// ErrPairing means a pairing for the number is already under way.
	ErrPairing = errors.New("a pairing is already under way for this number")
	// ErrNoPairing means PairPhone was called with no PairQR under way.
	ErrNoPairing = errors.New("no pairing under way for this number: call PairQR first")
	// ErrNotPaired means the number has no device keys to connect with.
	ErrNotPaired = errors.New("number is not paired")
	// ErrNotConnected means the number is not connected to WhatsApp.
	ErrNotConnected = errors.New("number is not connected")
	// ErrInvalidPhone means a phone number is not in E.164 form.
	ErrInvalidPhone = errors.New("phone number is not a possible E.164 number")
	// ErrMediaGone means WhatsApp no longer has an inbound file, or its
	// reference is not one the Connector made.
	ErrMediaGone = errors.New("the file is no longer available from WhatsApp")
	// ErrClosed means the Connector has been closed.
	ErrClosed = errors.New("connector is closed")
)

// OutgoingMessage is a message for Send to transmit.
type OutgoingMessage struct {
	// ID is the WhatsApp message id (see NewMessageID), the same on every
	// retry of the message.
	ID string
	// To is the recipient in E.164 form, e.g. "+14155552671"; empty when
	// only ToLID is known.
	To string
	// ToLID is the recipient's hidden-number id (the user part of its LID),
	// used when To is empty: a reply to a sender WhatsApp hid.
	ToLID string
	// Group is the JID of the group the message goes to, instead of To.
	Group string
	Kind  apiws.MessageKind
	// Text is the body of a TEXT message, the emoji of a REACTION (empty
	// removes the number's reaction).
	Text string
	// Media is the attachment of an IMAGE, DOCUMENT, AUDIO, VIDEO or
	// STICKER message.
	Media *Media
	// Location is the point of a LOCATION message.
	Location *apiws.Location
	// Contacts are the cards of a CONTACT message, each with its vCard
	// (see VCard).
	Contacts []apiws.ContactCard
	// Poll is the poll of a POLL message.
	Poll *apiws.Poll
	// ReplyTo is the message this one quotes, if any; for a REACTION, the
	// message reacted to.
	ReplyTo *Quote
	// Mentions are the phones (E.164) the text mentions.
	Mentions []string
}

// Quote is a message a reply quotes: its WhatsApp id and who wrote it.
type Quote struct {
	ID string
	// FromMe says the sending number wrote it; otherwise Sender (E.164) or,
	// when WhatsApp hid the phone, SenderLID is who did.
	FromMe    bool
	Sender    string
	SenderLID string
}

// Media is an attachment to send.
type Media struct {
	Data     []byte
	MimeType string
	// FileName is shown for documents.
	FileName string
	// Caption is shown under images, videos and documents.
	Caption string
}

// SendResult is WhatsApp's acknowledgement of a sent message.
type SendResult struct {
	// WAMessageID is the id WhatsApp knows the message by; receipts carry it.
	WAMessageID string
	// At is when WhatsApp accepted the message.
	At time.Time
	// Content is the message as sent, opaque, for the connector to answer
	// a recipient's retry receipt with (see WhatsmeowOptions.Retained);
	// nil when the connector needs none.
	Content []byte
}

// Stable send error codes. The first five are apiws's; CodeSendFailed is for
// permanent failures none of them describes.
const (
	CodeNotOnWhatsApp = apiws.MsgErrNotOnWhatsApp
	CodeNotConnected  = apiws.MsgErrNotConnected
	CodeRateLimited   = apiws.MsgErrRateLimited
	CodeMediaInvalid  = apiws.MsgErrMediaInvalid
	CodeTimeout       = apiws.MsgErrTimeout
	CodeSendFailed    = "SEND_FAILED"
)

// SendError is the error Send returns: a stable Code, a human message, and
// whether a retry of the same message may succeed.
type SendError struct {
	Code      string
	Message   string
	Retryable bool
	// Err is the underlying cause, if any, for logs.
	Err error
}

// Error returns the code and the message.
func (e *SendError) Error() string {
	return e.Code + ": " + e.Message
}

// Unwrap returns the underlying cause.
func (e *SendError) Unwrap() error { return e.Err }

// MessageError converts e to the form apiws stores on a message.
func (e *SendError) MessageError() *apiws.MessageError {
	return &apiws.MessageError{Code: e.Code, Message: e.Message, Retryable: e.Retryable}
}

func sendErr(code, msg string, retryable bool, cause error) *SendError {
	return &SendError{Code: code, Message: msg, Retryable: retryable, Err: cause}
}
