package apiws

// EventKind says what an Event is about.
type EventKind string

// Event kinds.
const (
	// EventLogged: events were written to the account's log; Cursor is
	// the place there of the last of them, Data the events (package
	// eventlog).
	EventLogged EventKind = "logged"
	// EventIncoming: a message arrived; Data carries its content in transit.
	EventIncoming EventKind = "incoming"
	// EventNumberStatus: a number's connection state changed.
	EventNumberStatus EventKind = "number_status"
	// EventPairing: a QR code rotated or pairing ended.
	EventPairing EventKind = "pairing"
	// EventResync is made by a Bus, never published: the subscription may
	// have missed events (the broker connection was lost and is back), so a
	// subscriber that needs every event reads its source of truth again.
	EventResync EventKind = "resync"
	// EventOutbox nudges the owner of a number that its outbox has work.
	EventOutbox EventKind = "outbox"
	// EventNumberCommand asks the owner of a number, on another instance,
	// to connect or disconnect it.
	EventNumberCommand EventKind = "number_command"
	// EventWebhooks wakes the webhook deliverers: deliveries were queued.
	EventWebhooks EventKind = "webhooks"
	// EventCredentialsRevoked: API keys or sessions were revoked, the one
	// with the id in Data or, with no Data, every one of AccountID;
	// instances drop them from their authentication caches.
	EventCredentialsRevoked EventKind = "credentials_revoked"
)

// Event is something that happened in an account, as carried by the events
// Bus. Data is an encoding chosen by the publisher (JSON), so one encoded
// event is shared by every subscriber.
type Event struct {
	Kind      EventKind `json:"k"`
	AccountID string    `json:"a,omitempty"`
	NumberID  string    `json:"n,omitempty"`
	// Cursor is the event log position of an EventLogged.
	Cursor int64  `json:"c,omitempty"`
	Data   []byte `json:"d,omitempty"`
}
