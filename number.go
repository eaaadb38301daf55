package apiws

import (
	"context"
	"time"
)

// NumberStatus is the connection state of a WhatsApp number.
type NumberStatus string

// Number statuses.
const (
	NumberPairing      NumberStatus = "PAIRING"
	NumberConnecting   NumberStatus = "CONNECTING"
	NumberConnected    NumberStatus = "CONNECTED"
	NumberDisconnected NumberStatus = "DISCONNECTED"
	NumberLoggedOut    NumberStatus = "LOGGED_OUT"
	NumberBanned       NumberStatus = "BANNED"
)

// Number is a WhatsApp number connected to an account.
type Number struct {
	ID        string  `bun:"id,pk"`
	AccountID string  `bun:"account_id,notnull"`
	Label     *string `bun:"label"`
	Sandbox   bool    `bun:"sandbox,notnull"`
	// Phone is the E.164 number, known once paired.
	Phone *string `bun:"phone"`
	// JID is WhatsApp's device address, known once paired.
	JID         *string      `bun:"jid"`
	PushName    *string      `bun:"push_name"`
	Status      NumberStatus `bun:"status,notnull"`
	ConnectedAt *time.Time   `bun:"connected_at"`
	LastSeenAt  *time.Time   `bun:"last_seen_at"`
	CreatedAt   time.Time    `bun:"created_at,notnull"`
	// Pairing holds the QR code in force while Status is PAIRING, so a
	// subscriber that joins late, on any instance, starts from it.
	Pairing *PairingQRCode `bun:"pairing,type:text" json:"-"`
	// PairingExpiresAt is when the pairing under way last promised its next
	// step; a PAIRING number long past it was abandoned (its instance died).
	PairingExpiresAt *time.Time `bun:"pairing_expires_at" json:"-"`
	// BanExpiresAt is when a BANNED number's temporary ban ends, when
	// WhatsApp said; its owner connects it again then, also after a restart.
	BanExpiresAt *time.Time `bun:"ban_expires_at" json:"-"`
}

// NewNumber is the input of NumberService.ConnectNumber.
type NewNumber struct {
	Label   *string
	Sandbox bool
}

// NumberFilter narrows a list of numbers; an empty Statuses means any.
type NumberFilter struct {
	Statuses []NumberStatus
}

// NumberStatusEvent is a NUMBER_STATUS event of the log as GraphQL shows
// it: a number's connection state changed.
type NumberStatusEvent struct{ *LogEvent }

// Number is the number as it was right after the change.
func (e NumberStatusEvent) Number() *Number { return e.detail().Number }

// Status is the number's new status.
func (e NumberStatusEvent) Status() NumberStatus { return e.detail().NumberStatus }

// Reason says why the status changed, when known.
func (e NumberStatusEvent) Reason() *string { return e.detail().Reason }

func (e NumberStatusEvent) detail() *EventDetail {
	if e.Detail == nil {
		return &EventDetail{}
	}
	return e.Detail
}

// NumberService connects an account's WhatsApp numbers and follows their
// connection state. Mutations act for the caller's account and need the
// MANAGE_NUMBERS scope; subscriptions need READ. Another account's number
// is reported exactly like a missing one (ENOTFOUND).
type NumberService interface {
	// ConnectNumber creates a number in PAIRING and starts pairing it; QR
	// codes and the outcome follow on Pairing. An account pairs one number
	// at a time: while another is pairing the answer is ECONFLICT. An
	// account pending deletion gets EFORBIDDEN.
	ConnectNumber(ctx context.Context, in NewNumber) (*Number, error)
	// RequestPairingCode returns an 8-character code to type on the phone
	// instead of scanning the QR code of the pairing under way.
	RequestPairingCode(ctx context.Context, numberID, phone string) (string, error)
	// DisconnectNumber closes the number's connection and keeps its device
	// keys; a pairing under way is cancelled.
	DisconnectNumber(ctx context.Context, id string) (*Number, error)
	// ReconnectNumber connects a paired number again, or starts a new
	// pairing for one that is not paired (any more).
	ReconnectNumber(ctx context.Context, id string) (*Number, error)
	// RemoveNumber logs the number out of WhatsApp, deletes its device keys
	// and deletes it.
	RemoveNumber(ctx context.Context, id string) error
	// Number returns one number of the caller's account (ScopeRead), or
	// ENOTFOUND.
	Number(ctx context.Context, id string) (*Number, error)
	// Numbers pages through the account's numbers, newest first; Page.After
	// is the id of the last number of the previous page (RequireRead).
	Numbers(ctx context.Context, accountID string, f NumberFilter, p Page) (List[*Number], error)
	// Lookup asks WhatsApp, through one of the caller's CONNECTED numbers
	// (ScopeRead), whether each phone is on WhatsApp: at most MaxLookup
	// phones, else EBADREQUEST, as for a phone that is not a possible
	// number. The answers are one per distinct phone (in E.164), in the
	// order of their first mention. A number not connected gives
	// ENOTCONNECTED.
	Lookup(ctx context.Context, numberID string, phones []string) ([]NumberLookup, error)
	// Pairing follows the pairing of one of the caller's numbers: first the
	// QR code in force, then each new one, then the outcome, after which the
	// channel is closed. A number that is not pairing gives its outcome at
	// once. The channel is also closed when ctx ends. It needs
	// ScopeManageNumbers: whoever scans a QR code links the number.
	Pairing(ctx context.Context, numberID string) (<-chan PairingEvent, error)
}

// MaxLookup is the most phones one NumberService.Lookup may ask about.
const MaxLookup = 50

// NumberLookup is WhatsApp's answer about one phone.
type NumberLookup struct {
	// Phone is in E.164 form.
	Phone      string
	OnWhatsApp bool
	// LID is WhatsApp's hidden-number id of the phone, when it gave one;
	// nil when the phone is not on WhatsApp.
	LID *string
}

// NumberOwner says which numbers this instance connects and sends through:
// each number is owned by one instance at a time (package ownership).
type NumberOwner interface {
	// Owns returns the fencing token of the number's lease if this
	// instance holds it.
	Owns(numberID string) (token int64, ok bool)
}

// Owns reports whether o owns the number. A nil NumberOwner owns every
// number: one instance alone, without leases.
func Owns(o NumberOwner, numberID string) bool {
	if o == nil {
		return true
	}
	_, ok := o.Owns(numberID)
	return ok
}

// ConnectedNumber checks the lookup of one of the caller's numbers (n,
// err) for an action that needs the number connected: a missing number
// (ENOTFOUND, also another account's) and one not connected are userErrors
// at the input path at; any other error is returned as it is.
func ConnectedNumber(n *Number, err error, at []string) (*Number, error) {
	if ErrorCodeOf(err) == ENOTFOUND {
		return nil, FieldError(ENOTFOUND, at, "no such number")
	} else if err != nil {
		return nil, err
	}
	if err := RequireStatusConnected(n.Status, at); err != nil {
		return nil, err
	}
	return n, nil
}

// RequireStatusConnected refuses a number whose status is not CONNECTED
// with an ENOTCONNECTED userError at the input path at.
func RequireStatusConnected(status NumberStatus, at []string) error {
	if status != NumberConnected {
		return FieldError(ENOTCONNECTED, at, "the number is not connected (status %s)", status)
	}
	return nil
}
