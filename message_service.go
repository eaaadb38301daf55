package apiws

import (
	"context"
	"time"
)

// Incoming is an inbound message as it reaches its followers: its metadata
// and its content, in transit only (the content is never stored).
type Incoming struct {
	Message *Message      `json:"message"`
	Text    string        `json:"text,omitempty"`
	Media   *InboundMedia `json:"media,omitempty"`
}

// InboundMedia describes a received attachment.
type InboundMedia struct {
	MimeType string
	FileName string
	Caption  string
	Size     int64
}

// MessageService sends messages, lists them, follows their status and the
// inbound ones, and keeps the debug captures of their content.
type MessageService interface {
	// Send validates and queues a message for one of the caller's numbers
	// (ScopeSend). With an idempotency key used in the last 24 hours it
	// returns the first message (same input) or ECONFLICT (different
	// input), and queues nothing.
	Send(ctx context.Context, in SendMessage) (*Message, error)
	// Message returns one of the caller's messages, or ENOTFOUND.
	Message(ctx context.Context, id string) (*Message, error)
	// Messages pages an account's messages, newest first; Page.After is
	// the id of the last message of the previous page (RequireRead).
	Messages(ctx context.Context, accountID string, f MessageFilter, page Page) (List[*Message], error)
	// FollowStatus streams the account's message events (of one number
	// when numberID is not ""): with after, the logged events after that
	// cursor first, then live ones, with no gap and no duplicate.
	FollowStatus(ctx context.Context, accountID, numberID string, after *int64) (<-chan *LogEvent, error)
	// FollowIncoming streams inbound messages with their content, in
	// transit; when messages were missed the stream ends with an error.
	FollowIncoming(ctx context.Context, accountID, numberID string) (<-chan *Incoming, error)
	// GrantDebugCapture records the calling session's permission to keep
	// the message content of one number until until.
	GrantDebugCapture(ctx context.Context, numberID string, until time.Time, reason string) (*DebugCapture, error)
	// RevokeDebugCapture ends one of the caller's captures.
	RevokeDebugCapture(ctx context.Context, id string) (*DebugCapture, error)
	// DebugCaptures lists an account's captures (RequireRead).
	DebugCaptures(ctx context.Context, accountID string) ([]*DebugCapture, error)
	// DebugCapture returns one capture of the caller's account
	// (ScopeRead), or ENOTFOUND.
	DebugCapture(ctx context.Context, id string) (*DebugCapture, error)
}
