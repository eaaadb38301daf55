package whatsapp

import (
	"context"
	"fmt"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow/types"
)

// ChatState is what SendChatPresence shows the peer of a chat.
type ChatState string

// The chat states: typing, recording a voice note, or neither.
const (
	StateTyping    ChatState = "TYPING"
	StateRecording ChatState = "RECORDING"
	StatePaused    ChatState = "PAUSED"
)

// ReadReceipt marks inbound messages of one chat read.
type ReadReceipt struct {
	// IDs are the WhatsApp ids of the messages.
	IDs []string
	// Chat is the peer in E.164 form; empty when only ChatLID is known.
	Chat string
	// ChatLID is the peer's hidden-number id, used when Chat is empty.
	ChatLID string
	// Group is the JID of the group the messages were written in; Chat
	// (or ChatLID) is then the participant who wrote them.
	Group string `json:",omitempty"`
	// At is when the messages were read.
	At time.Time
}

// Signal is a read receipt or a chat presence the Sandbox accepted. It
// records nothing of any message's content.
type Signal struct {
	NumberID string
	// Chat is the peer (E.164) or its LID.
	Chat string
	// Read is how many messages a read receipt marked read; 0 for a
	// presence.
	Read int
	// State is the presence shown; empty for a read receipt.
	State ChatState
	// Action is "edit" or "revoke" of the number's message MessageID.
	Action    string
	MessageID string
}

// chatJID is the JID of a one-to-one chat with phone (E.164) or, when phone
// is empty, with the hidden-number id lid.
func chatJID(phone, lid string) (types.JID, error) {
	if isGroupJID(phone) {
		return parseGroupJID(phone)
	}
	if phone != "" {
		p, err := normalizePhone(phone)
		if err != nil {
			return types.JID{}, err
		}
		return types.NewJID(phoneDigits(p), types.DefaultUserServer), nil
	}
	if lid == "" || !isLID(lid) {
		return types.JID{}, ErrInvalidPhone
	}
	return types.NewJID(lid, types.HiddenUserServer), nil
}

// readArgs maps a read receipt to the arguments of whatsmeow's MarkRead: in
// a one-to-one chat the sender is the chat itself, left empty.
func readArgs(r ReadReceipt) (ids []types.MessageID, at time.Time, chat, sender types.JID, err error) {
	if len(r.IDs) == 0 {
		return nil, time.Time{}, types.JID{}, types.JID{}, fmt.Errorf("no message ids to mark read")
	}
	if chat, err = chatJID(r.Chat, r.ChatLID); err != nil {
		return nil, time.Time{}, types.JID{}, types.JID{}, err
	}
	if r.Group != "" {
		// In a group, the receipt names the sender too.
		sender = chat
		if chat, err = parseGroupJID(r.Group); err != nil {
			return nil, time.Time{}, types.JID{}, types.JID{}, err
		}
	}
	ids = make([]types.MessageID, len(r.IDs))
	for i, id := range r.IDs {
		ids[i] = types.MessageID(id)
	}
	return ids, r.At, chat, sender, nil
}

// presenceArgs maps a chat state to whatsmeow's presence and its media:
// recording is composing audio.
func presenceArgs(s ChatState) (types.ChatPresence, types.ChatPresenceMedia, error) {
	switch s {
	case StateTyping:
		return types.ChatPresenceComposing, types.ChatPresenceMediaText, nil
	case StateRecording:
		return types.ChatPresenceComposing, types.ChatPresenceMediaAudio, nil
	case StatePaused:
		return types.ChatPresencePaused, types.ChatPresenceMediaText, nil
	}
	return "", "", fmt.Errorf("unknown chat state %q", s)
}

// MarkRead sends a read receipt through n.
func (w *Whatsmeow) MarkRead(ctx context.Context, n *apiws.Number, r ReadReceipt) error {
	ids, at, chat, sender, err := readArgs(r)
	if err != nil {
		return err
	}
	num := w.number(n.ID)
	if num == nil || !num.client.IsConnected() || !num.client.IsLoggedIn() {
		return ErrNotConnected
	}
	return num.client.MarkRead(ctx, ids, at, chat, sender)
}

// SendChatPresence shows state to the peer phone (E.164) through n.
func (w *Whatsmeow) SendChatPresence(ctx context.Context, n *apiws.Number, phone string, state ChatState) error {
	presence, media, err := presenceArgs(state)
	if err != nil {
		return err
	}
	jid, err := chatJID(phone, "")
	if err != nil {
		return err
	}
	num := w.number(n.ID)
	if num == nil || !num.client.IsConnected() || !num.client.IsLoggedIn() {
		return ErrNotConnected
	}
	return num.client.SendChatPresence(ctx, jid, presence, media)
}

// MarkRead records the read receipt of a connected number.
func (s *Sandbox) MarkRead(ctx context.Context, n *apiws.Number, r ReadReceipt) error {
	if _, _, _, _, err := readArgs(r); err != nil {
		return err
	}
	chat := r.Chat
	if chat == "" {
		chat = r.ChatLID
	}
	return s.signal(Signal{NumberID: n.ID, Chat: chat, Read: len(r.IDs)})
}

// SendChatPresence records the presence shown by a connected number.
func (s *Sandbox) SendChatPresence(ctx context.Context, n *apiws.Number, phone string, state ChatState) error {
	if _, _, err := presenceArgs(state); err != nil {
		return err
	}
	p, err := phone, error(nil)
	if !isGroupJID(phone) {
		p, err = normalizePhone(phone)
	}
	if err != nil {
		return err
	}
	return s.signal(Signal{NumberID: n.ID, Chat: p, State: state})
}

func (s *Sandbox) signal(sig Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if num := s.numbers[sig.NumberID]; num == nil || !num.connected {
		return ErrNotConnected
	}
	s.signals = append(s.signals, sig)
	return nil
}

// Signals returns the read receipts and presences accepted, in order.
func (s *Sandbox) Signals() []Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Signal(nil), s.signals...)
}
