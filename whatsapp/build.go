package whatsapp

import (
	"context"
	"fmt"
	"strings"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// checkOutgoing refuses a message no connector could send, with the error
// Send returns for it, and returns the recipient in canonical E.164 form
// ("" when the message goes to msg.ToLID). A recipient that cannot be a
// phone number (or a LID) cannot be on WhatsApp either.
func checkOutgoing(msg OutgoingMessage) (string, *SendError) {
	if msg.ID == "" {
		return "", sendErr(CodeSendFailed, "message has no id", false, nil)
	}
	to := ""
	if msg.Group == "" && (msg.To != "" || !isLID(msg.ToLID)) {
		var err error
		if to, err = normalizePhone(msg.To); err != nil {
			return "", sendErr(CodeNotOnWhatsApp, fmt.Sprintf("recipient %q is not a possible phone number", msg.To), false, err)
		}
	}
	switch msg.Kind {
	case apiws.KindText:
		if msg.Text == "" {
			return "", sendErr(CodeSendFailed, "text message is empty", false, nil)
		}
	case apiws.KindImage, apiws.KindDocument, apiws.KindAudio, apiws.KindVideo, apiws.KindSticker:
		if msg.Media == nil || len(msg.Media.Data) == 0 {
			return "", sendErr(CodeMediaInvalid, "media message has no data", false, nil)
		}
		if msg.Media.MimeType == "" {
			return "", sendErr(CodeMediaInvalid, "media message has no mime type", false, nil)
		}
	case apiws.KindLocation:
		if msg.Location == nil {
			return "", sendErr(CodeSendFailed, "location message has no location", false, nil)
		}
	case apiws.KindContact:
		if len(msg.Contacts) == 0 {
			return "", sendErr(CodeSendFailed, "contact message has no cards", false, nil)
		}
	case apiws.KindPoll:
		if msg.Poll == nil || len(msg.Poll.Options) < 2 {
			return "", sendErr(CodeSendFailed, "poll message has no poll of two options or more", false, nil)
		}
	case apiws.KindReaction:
		if msg.ReplyTo == nil || msg.ReplyTo.ID == "" {
			return "", sendErr(CodeSendFailed, "reaction names no message to react to", false, nil)
		}
	default:
		return "", sendErr(CodeSendFailed, fmt.Sprintf("messages of kind %s cannot be sent", msg.Kind), false, nil)
	}
	return to, nil
}

// uploadFunc uploads media to WhatsApp's servers (whatsmeow's Client.Upload).
type uploadFunc func(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error)

// pollFunc builds a poll's protobuf with a fresh message secret (whatsmeow's
// Client.BuildPollCreation); whatsmeow keeps the secret when the poll is
// sent, to decrypt the votes.
type pollFunc func(name string, optionNames []string, selectableOptionCount int) *waE2E.Message

// buildMessage turns a checked message into the protobuf whatsmeow sends,
// uploading its media first; own is the sending device (the author of the
// quoted message when it is our own). Upload errors come back as they are,
// for mapSendError to classify.
func buildMessage(ctx context.Context, msg OutgoingMessage, own types.JID, upload uploadFunc, poll pollFunc) (*waE2E.Message, error) {
	m, err := buildContent(ctx, msg, upload, poll)
	if err != nil {
		return nil, err
	}
	if ci := replyContext(msg.ReplyTo, msg.Mentions, own); ci != nil {
		setContext(m, ci)
	}
	return m, nil
}

// replyContext is the ContextInfo of a reply and of mentions, nil with
// neither. apiws keeps no content, so the quoted message goes as an empty
// conversation: WhatsApp's apps show the quote from their own copy of the
// message its StanzaID names.
func replyContext(q *Quote, mentions []string, own types.JID) *waE2E.ContextInfo {
	if q == nil && len(mentions) == 0 {
		return nil
	}
	ci := &waE2E.ContextInfo{}
	if q != nil {
		ci.StanzaID = proto.String(q.ID)
		ci.QuotedMessage = &waE2E.Message{Conversation: proto.String("")}
		if author := quoteAuthor(q, own); !author.IsEmpty() {
			ci.Participant = proto.String(author.String())
		}
	}
	for _, p := range mentions {
		ci.MentionedJID = append(ci.MentionedJID, types.NewJID(phoneDigits(p), types.DefaultUserServer).String())
	}
	return ci
}

// quoteAuthor is who wrote the quoted message: own (the sending device,
// as a user) for the number's own, else the sender by phone or LID; the
// empty JID when the quote names none.
func quoteAuthor(q *Quote, own types.JID) types.JID {
	switch {
	case q.FromMe:
		return own.ToNonAD()
	case q.Sender != "":
		return types.NewJID(phoneDigits(q.Sender), types.DefaultUserServer)
	case q.SenderLID != "":
		return types.NewJID(q.SenderLID, types.HiddenUserServer)
	}
	return types.EmptyJID
}

// reactFunc builds a reaction (whatsmeow's Client.BuildReaction), whose
// key is the number's own message when sender is the number.
type reactFunc func(chat, sender types.JID, id types.MessageID, reaction string) *waE2E.Message

// reactionMessage is msg's reaction (its Text; empty removes it) to the
// message msg.ReplyTo, in the chat with chat; own is the sending device.
// The reacted message is the number's own, or its quoted sender's, or
// else the chat peer's.
func reactionMessage(msg OutgoingMessage, chat, own types.JID, react reactFunc) *waE2E.Message {
	author := quoteAuthor(msg.ReplyTo, own)
	if author.IsEmpty() && !msg.ReplyTo.FromMe {
		author = chat.ToNonAD()
	}
	return react(chat, author, types.MessageID(msg.ReplyTo.ID), msg.Text)
}

// setContext puts ci on the part of m that carries the content; a plain
// conversation becomes an extended text, the only text that has one.
func setContext(m *waE2E.Message, ci *waE2E.ContextInfo) {
	switch {
	case m.Conversation != nil:
		m.ExtendedTextMessage = &waE2E.ExtendedTextMessage{Text: m.Conversation, ContextInfo: ci}
		m.Conversation = nil
	case m.ImageMessage != nil:
		m.ImageMessage.ContextInfo = ci
	case m.VideoMessage != nil:
		m.VideoMessage.ContextInfo = ci
	case m.AudioMessage != nil:
		m.AudioMessage.ContextInfo = ci
	case m.DocumentMessage != nil:
		m.DocumentMessage.ContextInfo = ci
	case m.StickerMessage != nil:
		m.StickerMessage.ContextInfo = ci
	case m.LocationMessage != nil:
		m.LocationMessage.ContextInfo = ci
	case m.ContactMessage != nil:
		m.ContactMessage.ContextInfo = ci
	case m.ContactsArrayMessage != nil:
		m.ContactsArrayMessage.ContextInfo = ci
	case m.PollCreationMessage != nil:
		m.PollCreationMessage.ContextInfo = ci
	}
}

// buildContent builds the part of the message that carries its content.
func buildContent(ctx context.Context, msg OutgoingMessage, upload uploadFunc, poll pollFunc) (*waE2E.Message, error) {
	switch msg.Kind {
	case apiws.KindText:
		return &waE2E.Message{Conversation: proto.String(msg.Text)}, nil
	case apiws.KindLocation:
		return locationMessage(msg.Location), nil
	case apiws.KindContact:
		return contactsMessage(msg.Contacts), nil
	case apiws.KindPoll:
		return poll(msg.Poll.Question, msg.Poll.Options, msg.Poll.SelectableCount), nil
	}
	return buildMediaMessage(ctx, msg, upload)
}

// locationMessage is a pinned location, as WhatsApp's apps share one.
func locationMessage(l *apiws.Location) *waE2E.Message {
	return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
		DegreesLatitude: proto.Float64(l.Latitude), DegreesLongitude: proto.Float64(l.Longitude),
		Name: l.Name, Address: l.Address,
	}}
}

// contactsMessage is one contact card, or several in one message, each a
// vCard.
func contactsMessage(cards []apiws.ContactCard) *waE2E.Message {
	contacts := make([]*waE2E.ContactMessage, len(cards))
	for i, c := range cards {
		vc := c.VCard
		if vc == "" {
			vc = VCard(c.Name, c.Phones)
		}
		contacts[i] = &waE2E.ContactMessage{DisplayName: proto.String(c.Name), Vcard: proto.String(vc)}
	}
	if len(contacts) == 1 {
		return &waE2E.Message{ContactMessage: contacts[0]}
	}
	return &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{
		DisplayName: proto.String(fmt.Sprintf("%d contacts", len(contacts))), Contacts: contacts,
	}}
}

// buildMediaMessage uploads an attachment and returns the message that
// carries it.
func buildMediaMessage(ctx context.Context, msg OutgoingMessage, upload uploadFunc) (*waE2E.Message, error) {
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
		img := &waE2E.ImageMessage{
			Caption: caption, Mimetype: proto.String(m.MimeType),
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		}
		if info := probeImage(m.Data); info.width > 0 {
			img.Width, img.Height, img.JPEGThumbnail = proto.Uint32(info.width), proto.Uint32(info.height), info.thumbnail
		}
		return &waE2E.Message{ImageMessage: img}, nil
	case apiws.KindVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			Caption: caption, Mimetype: proto.String(m.MimeType), Seconds: optionalSeconds(playSeconds(m.MimeType, m.Data)),
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		}}, nil
	case apiws.KindSticker:
		return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
			Mimetype: proto.String(m.MimeType),
			URL:      proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		}}, nil
	case apiws.KindAudio:
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			Mimetype: proto.String(m.MimeType),
			// Ogg/Opus is what phones record: show it as a voice note.
			PTT:     proto.Bool(strings.HasPrefix(m.MimeType, "audio/ogg")),
			Seconds: optionalSeconds(playSeconds(m.MimeType, m.Data)),
			URL:     proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
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
	// Stickers are images to WhatsApp's media servers.
	apiws.KindSticker: whatsmeow.MediaImage,
}

// optionalSeconds leaves an unknown length (0) unset.
func optionalSeconds(secs uint32) *uint32 {
	if secs == 0 {
		return nil
	}
	return proto.Uint32(secs)
}

// optional leaves an empty string unset, as WhatsApp clients do.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}
