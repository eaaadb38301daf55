package whatsapp

import (
	"context"
	"fmt"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// Edit sends an edit of n's message m through n.
func (w *Whatsmeow) Edit(ctx context.Context, n *apiws.Number, m MessageRef, text string) (time.Time, error) {
	return w.sendAbout(ctx, n, m, func(cli sender, chat types.JID) *waE2E.Message {
		return cli.BuildEdit(chat, types.MessageID(m.ID), &waE2E.Message{Conversation: proto.String(text)})
	})
}

// Revoke deletes n's message m for everyone, through n.
func (w *Whatsmeow) Revoke(ctx context.Context, n *apiws.Number, m MessageRef) (time.Time, error) {
	return w.sendAbout(ctx, n, m, func(cli sender, chat types.JID) *waE2E.Message {
		// An empty sender is the number itself.
		return cli.BuildRevoke(chat, types.EmptyJID, types.MessageID(m.ID))
	})
}

// sender is the part of *whatsmeow.Client that builds messages about other
// messages.
type sender interface {
	BuildEdit(chat types.JID, id types.MessageID, newContent *waE2E.Message) *waE2E.Message
	BuildRevoke(chat, sender types.JID, id types.MessageID) *waE2E.Message
}

// sendAbout sends, in the chat of m, the message build makes about m.
func (w *Whatsmeow) sendAbout(ctx context.Context, n *apiws.Number, m MessageRef, build func(sender, types.JID) *waE2E.Message) (time.Time, error) {
	chat, err := chatJID(m.Chat, m.ChatLID)
	if err != nil {
		return time.Time{}, sendErr(CodeSendFailed, err.Error(), false, err)
	}
	num := w.number(n.ID)
	if num == nil || !num.client.IsConnected() || !num.client.IsLoggedIn() {
		return time.Time{}, sendErr(CodeNotConnected, "number is not connected", true, ErrNotConnected)
	}
	resp, err := num.client.SendMessage(ctx, chat, build(num.client, chat))
	if err != nil {
		return time.Time{}, mapSendError(err)
	}
	if resp.Timestamp.IsZero() {
		return w.now(), nil
	}
	return resp.Timestamp, nil
}

// Download fetches and decrypts an inbound file: ref is the media part of
// the message it came in (see mediaRef).
func (w *Whatsmeow) Download(ctx context.Context, n *apiws.Number, ref []byte) ([]byte, error) {
	msg := new(waE2E.Message)
	if err := proto.Unmarshal(ref, msg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMediaGone, err)
	}
	num := w.number(n.ID)
	if num == nil || !num.client.IsConnected() || !num.client.IsLoggedIn() {
		return nil, ErrNotConnected
	}
	data, err := num.client.DownloadAny(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMediaGone, err)
	}
	return data, nil
}

// Edit records the edit of a connected number's message.
func (s *Sandbox) Edit(ctx context.Context, n *apiws.Number, m MessageRef, text string) (time.Time, error) {
	return s.act(n, m, "edit")
}

// Revoke records the revoke of a connected number's message.
func (s *Sandbox) Revoke(ctx context.Context, n *apiws.Number, m MessageRef) (time.Time, error) {
	return s.act(n, m, "revoke")
}

func (s *Sandbox) act(n *apiws.Number, m MessageRef, action string) (time.Time, error) {
	chat := m.Chat
	if chat == "" {
		chat = m.ChatLID
	}
	if err := s.signal(Signal{NumberID: n.ID, Chat: chat, Action: action, MessageID: m.ID}); err != nil {
		return time.Time{}, sendErr(CodeNotConnected, err.Error(), true, err)
	}
	return time.Now(), nil
}

// sandboxMediaRef is the reference of the sandbox's inbound files: each is
// SandboxPNG.
var sandboxMediaRef = []byte("sandbox:png")

// SandboxPNG is the file of every inbound sandbox image: a 1×1 PNG.
var SandboxPNG = []byte{
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
	0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
	0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
	0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
}

// Download returns the sandbox's file for its reference.
func (s *Sandbox) Download(ctx context.Context, n *apiws.Number, ref []byte) ([]byte, error) {
	if string(ref) != string(sandboxMediaRef) {
		return nil, ErrMediaGone
	}
	return append([]byte(nil), SandboxPNG...), nil
}
