package whatsapp

import (
	"context"
	"fmt"
	"strings"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"
)

// checkOutgoing refuses a message no connector could send, with the error
// Send returns for it, and returns the recipient in canonical E.164 form.
// A recipient that cannot be a phone number cannot be on WhatsApp either.
func checkOutgoing(msg OutgoingMessage) (string, *SendError) {
	if msg.ID == "" {
		return "", sendErr(CodeSendFailed, "message has no id", false, nil)
	}
	to, err := normalizePhone(msg.To)
	if err != nil {
		return "", sendErr(CodeNotOnWhatsApp, fmt.Sprintf("recipient %q is not a possible phone number", msg.To), false, err)
	}
	switch msg.Kind {
	case apiws.KindText:
		if msg.Text == "" {
			return "", sendErr(CodeSendFailed, "text message is empty", false, nil)
		}
	case apiws.KindImage, apiws.KindDocument, apiws.KindAudio, apiws.KindVideo:
		if msg.Media == nil || len(msg.Media.Data) == 0 {
			return "", sendErr(CodeMediaInvalid, "media message has no data", false, nil)
		}
		if msg.Media.MimeType == "" {
			return "", sendErr(CodeMediaInvalid, "media message has no mime type", false, nil)
		}
	default:
		return "", sendErr(CodeSendFailed, fmt.Sprintf("messages of kind %s cannot be sent", msg.Kind), false, nil)
	}
	return to, nil
}

// uploadFunc uploads media to WhatsApp's servers (whatsmeow's Client.Upload).
type uploadFunc func(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error)

// buildMessage turns a checked message into the protobuf whatsmeow sends,
// uploading its media first. Upload errors come back as they are, for
// mapSendError to classify.
func buildMessage(ctx context.Context, msg OutgoingMessage, upload uploadFunc) (*waE2E.Message, error) {
	if msg.Kind == apiws.KindText {
		return &waE2E.Message{Conversation: proto.String(msg.Text)}, nil
	}
	m := msg.Media
	mediaType, ok := mediaTypes[msg.Kind]
	if !ok || m == nil {
		return nil, sendErr(CodeSendFailed, fmt.Sprintf("messages of kind %s cannot be sent", msg.Kind), false, nil)
	}
	up, err := upload(ctx, m.Data, mediaType)
	if err != nil {
		return nil, fmt.Errorf("upload media: %w", err)
	}
	caption := optional(m.Caption)
	switch msg.Kind {
	case apiws.KindImage:
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			Caption: caption, Mimetype: proto.String(m.MimeType),
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		}}, nil
	case apiws.KindVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			Caption: caption, Mimetype: proto.String(m.MimeType),
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		}}, nil
	case apiws.KindAudio:
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			Mimetype: proto.String(m.MimeType),
			// Ogg/Opus is what phones record: show it as a voice note.
			PTT: proto.Bool(strings.HasPrefix(m.MimeType, "audio/ogg")),
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		}}, nil
	default: // document
		name := m.FileName
		if name == "" {
			name = "document"
		}
		return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
			Caption: caption, Mimetype: proto.String(m.MimeType), FileName: proto.String(name), Title: proto.String(name),
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		}}, nil
	}
}

// mediaTypes says which upload keys WhatsApp expects for each media kind.
var mediaTypes = map[apiws.MessageKind]whatsmeow.MediaType{
	apiws.KindImage:    whatsmeow.MediaImage,
	apiws.KindVideo:    whatsmeow.MediaVideo,
	apiws.KindAudio:    whatsmeow.MediaAudio,
	apiws.KindDocument: whatsmeow.MediaDocument,
}

// optional leaves an empty string unset, as WhatsApp clients do.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}
