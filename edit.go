package apiws

import "time"

// React is the input of a reaction: one emoji (one grapheme cluster), or
// "" to remove the number's reaction, to a message of one of the account's
// chats.
type React struct {
	MessageID      string
	Emoji          string
	IdempotencyKey *string
}

// EditMessage is the input of an edit: the new text of one of the
// account's outbound TEXT messages.
type EditMessage struct {
	MessageID string
	Text      string
}

// How long after its sentAt a message may still be edited or revoked:
// later is EEXPIRED.
const (
	EditWindow   = 15 * time.Minute
	RevokeWindow = 48 * time.Hour
)

// MessageEditedEvent is a MESSAGE_EDITED event as GraphQL shows it: the
// message, and its new content while in transit.
type MessageEditedEvent struct{ *LogEvent }

// MessageRevokedEvent is a MESSAGE_REVOKED event as GraphQL shows it.
type MessageRevokedEvent struct{ *LogEvent }

// ReactionEvent is a REACTION event as GraphQL shows it: MessageID is the
// message reacted to.
type ReactionEvent struct{ *LogEvent }

// From is who reacted: for the number's own reaction, its own phone.
func (e ReactionEvent) From() Peer { return peerOf(e.LogEvent) }

// Emoji is the reaction, "" when it was removed; nil once the content is
// no longer in transit.
func (e ReactionEvent) Emoji() *string {
	if e.Content == nil {
		return nil
	}
	return e.Content.Emoji
}

// PollVoteEvent is a POLL_VOTE event as GraphQL shows it: MessageID is the
// poll.
type PollVoteEvent struct{ *LogEvent }

// Voter is who voted.
func (e PollVoteEvent) Voter() Peer { return peerOf(e.LogEvent) }

// Options are the options now chosen (empty: the vote was withdrawn); nil
// once no longer in transit, or when WhatsApp did not tell them.
func (e PollVoteEvent) Options() []string {
	if e.Content == nil || e.Content.Votes == nil {
		return nil
	}
	return *e.Content.Votes
}

// peerOf is the peer an event's detail names (REACTION, POLL_VOTE).
func peerOf(ev *LogEvent) Peer {
	if ev.Detail == nil || ev.Detail.Peer == nil {
		return Peer{}
	}
	return *ev.Detail.Peer
}
