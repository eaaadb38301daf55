package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
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
	BuildReaction(chat, sender types.JID, id types.MessageID, reaction string) *waE2E.Message
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
	if err := proto.Unmarshal(ref, msg); err != nil || mediaRef(msg) == nil {
		return nil, fmt.Errorf("%w: the reference is not a file's", ErrMediaGone)
	}
	num := w.number(n.ID)
	if num == nil || !num.client.IsConnected() || !num.client.IsLoggedIn() {
		return nil, ErrNotConnected
	}
	data, err := num.client.DownloadAny(ctx, msg)
	if err != nil {
		return nil, downloadError(err)
	}
	return data, nil
}

// downloadError classifies a failed download: the number lost its
// connection (ErrNotConnected); the file is no longer there or not what
// the message said (ErrMediaGone); anything else (the network, WhatsApp's
// media servers failing) may pass and comes back as it is.
func downloadError(err error) error {
	switch {
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn):
		return fmt.Errorf("%w: %v", ErrNotConnected, err)
	case errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith403), errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404),
		errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410), errors.Is(err, whatsmeow.ErrNoURLPresent), errors.Is(err, whatsmeow.ErrNothingDownloadableFound),
		errors.Is(err, whatsmeow.ErrUnknownMediaType), errors.Is(err, whatsmeow.ErrTooShortFile),
		errors.Is(err, whatsmeow.ErrInvalidMediaHMAC), errors.Is(err, whatsmeow.ErrInvalidMediaEncSHA256),
		errors.Is(err, whatsmeow.ErrInvalidMediaSHA256):
		return fmt.Errorf("%w: %v", ErrMediaGone, err)
	}
	return fmt.Errorf("download the file: %w", err)
}

// mediaRef is what Download needs of msg's attachment, marshalled: a
// message holding only the attachment's download fields (where it is,
// its key, hashes, length and type), none of what a person wrote (no
// caption, no thumbnail, no context). nil if msg has no attachment.
func mediaRef(msg *waE2E.Message) []byte {
	ref := new(waE2E.Message)
	switch {
	case msg.ImageMessage != nil:
		m := msg.GetImageMessage()
		ref.ImageMessage = &waE2E.ImageMessage{URL: m.URL, DirectPath: m.DirectPath, MediaKey: m.MediaKey,
			FileEncSHA256: m.FileEncSHA256, FileSHA256: m.FileSHA256, FileLength: m.FileLength, Mimetype: m.Mimetype}
	case msg.VideoMessage != nil:
		m := msg.GetVideoMessage()
		ref.VideoMessage = &waE2E.VideoMessage{URL: m.URL, DirectPath: m.DirectPath, MediaKey: m.MediaKey,
			FileEncSHA256: m.FileEncSHA256, FileSHA256: m.FileSHA256, FileLength: m.FileLength, Mimetype: m.Mimetype}
	case msg.AudioMessage != nil:
		m := msg.GetAudioMessage()
		ref.AudioMessage = &waE2E.AudioMessage{URL: m.URL, DirectPath: m.DirectPath, MediaKey: m.MediaKey,
			FileEncSHA256: m.FileEncSHA256, FileSHA256: m.FileSHA256, FileLength: m.FileLength, Mimetype: m.Mimetype}
	case msg.DocumentMessage != nil:
		m := msg.GetDocumentMessage()
		ref.DocumentMessage = &waE2E.DocumentMessage{URL: m.URL, DirectPath: m.DirectPath, MediaKey: m.MediaKey,
			FileEncSHA256: m.FileEncSHA256, FileSHA256: m.FileSHA256, FileLength: m.FileLength, Mimetype: m.Mimetype}
	case msg.StickerMessage != nil:
		m := msg.GetStickerMessage()
		ref.StickerMessage = &waE2E.StickerMessage{URL: m.URL, DirectPath: m.DirectPath, MediaKey: m.MediaKey,
			FileEncSHA256: m.FileEncSHA256, FileSHA256: m.FileSHA256, FileLength: m.FileLength, Mimetype: m.Mimetype}
	default:
		return nil
	}
	b, err := proto.Marshal(ref)
	if err != nil {
		return nil
	}
	return b
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
