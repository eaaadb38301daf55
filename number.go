package apiws

import "time"

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
}
