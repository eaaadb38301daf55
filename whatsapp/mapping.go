package whatsapp

import (
	"fmt"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// mapReceipt turns a whatsmeow receipt into a Receipt for our own outgoing
// messages. Receipts from our other devices (sender, read-self,
// played-self) and kinds apiws does not track are dropped: ok is false. A
// server-error receipt is WhatsApp asking for the media to be uploaded
// again, not a failure (and must not undo DELIVERED or READ): dropped. An
// inactive receipt is a delivery to a device that is not in use.
func mapReceipt(numberID string, evt *events.Receipt) (r *Receipt, ok bool) {
	if evt.IsFromMe || len(evt.MessageIDs) == 0 {
		return nil, false
	}
	r = &Receipt{NumberID: numberID, MessageIDs: make([]string, len(evt.MessageIDs)), At: evt.Timestamp}
	for i, id := range evt.MessageIDs {
		r.MessageIDs[i] = string(id)
	}
	switch evt.Type {
	case types.ReceiptTypeDelivered, types.ReceiptTypeInactive:
		r.Status = apiws.StatusDelivered
	case types.ReceiptTypeRead:
		r.Status = apiws.StatusRead
	case types.ReceiptTypePlayed:
		r.Status = apiws.StatusPlayed
	default:
		return nil, false
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	return r, true
}

// mapConnection turns whatsmeow's connection events into a StateChange; ok
// is false for every other event. now stamps the change and anchors a ban's
// expiry, which whatsmeow gives as a duration.
func mapConnection(numberID string, evt any, now time.Time) (sc *StateChange, ok bool) {
	sc = &StateChange{NumberID: numberID, At: now}
	switch e := evt.(type) {
	case *events.Connected:
		sc.Status = apiws.NumberConnected
	case *events.Disconnected:
		// whatsmeow reconnects by itself after a dropped socket.
		sc.Status, sc.Reason = apiws.NumberDisconnected, "connection lost, reconnecting"
	case *events.LoggedOut:
		sc.Status, sc.Permanent = apiws.NumberLoggedOut, true
		sc.Reason = "logged out from the phone"
		if e.OnConnect {
			sc.Reason, sc.Code = e.Reason.String(), int(e.Reason)
		}
		// 403 is WhatsApp's LOCKED, 406 its BANNED: the account, not the
		// link, was stopped.
		if e.Reason == events.ConnectFailureMainDeviceGone || e.Reason == events.ConnectFailureUnknownLogout {
			sc.Status = apiws.NumberBanned
			sc.Reason = bannedReason(e.Reason)
		}
	case *events.KeepAliveTimeout:
		sc.Status, sc.Notice = apiws.NumberConnected, true
		sc.Reason = fmt.Sprintf("whatsapp has not answered %d keep-alive pings", e.ErrorCount)
		if !e.LastSuccess.IsZero() {
			sc.Reason += " since " + e.LastSuccess.UTC().Format(time.RFC3339)
		}
	case *events.KeepAliveRestored:
		sc.Status, sc.Notice = apiws.NumberConnected, true
		sc.Reason = "whatsapp answers keep-alive pings again"
	case *events.StreamReplaced:
		sc.Status, sc.Permanent = apiws.NumberDisconnected, true
		sc.Reason = "another connection took over this number's session"
	case *events.TemporaryBan:
		sc.Status, sc.Permanent = apiws.NumberBanned, true
		sc.Reason, sc.Code = e.Code.String(), int(e.Code)
		if e.Expire > 0 {
			until := now.Add(e.Expire)
			sc.BanExpiresAt = &until
		}
	case *events.ConnectFailure:
		sc.Status, sc.Code = apiws.NumberDisconnected, int(e.Reason)
		sc.Reason = e.Reason.String()
		if e.Message != "" {
			sc.Reason += " (" + e.Message + ")"
		}
		// Mirrors whatsmeow: it retries server errors and gives up otherwise.
		sc.Permanent = e.Reason != events.ConnectFailureInternalServerError && e.Reason != events.ConnectFailureServiceUnavailable
	case *events.CATRefreshError:
		sc.Status, sc.Permanent = apiws.NumberDisconnected, true
		sc.Reason = "could not refresh the connection token: " + e.Error.Error()
	default:
		return nil, false
	}
	return sc, true
}

// bannedReason words a logout that is a lock or a ban.
func bannedReason(r events.ConnectFailureReason) string {
	if r == events.ConnectFailureMainDeviceGone {
		return fmt.Sprintf("%d: whatsapp locked this account", int(r))
	}
	return fmt.Sprintf("%d: whatsapp banned this account", int(r))
}

// phoneResolver returns the E.164 phone number behind a JID, or "" when it
// is unknown. A LID needs the device store's LID map; a phone-number JID
// needs nothing.
type phoneResolver func(types.JID) string

// mapMessage turns an incoming whatsmeow message into an Inbound. Messages we
// sent from another device, group and broadcast traffic, and protocol
// messages that carry nothing for a person (revokes, key distribution) are
// dropped: ok is false.
func mapMessage(numberID string, evt *events.Message, phoneOf phoneResolver) (in *Inbound, ok bool) {
	info := evt.Info
	if info.IsFromMe || info.IsGroup || info.Chat.Server == types.BroadcastServer || evt.Message == nil {
		return nil, false
	}
	in = &Inbound{
		NumberID:    numberID,
		WAMessageID: string(info.ID),
		From:        senderPhone(info.MessageSource, phoneOf),
		FromLID:     senderLID(info.MessageSource),
		PushName:    info.PushName,
		At:          info.Timestamp,
	}
	if !fillContent(in, evt.Message) {
		return nil, false
	}
	return in, true
}

// senderPhone finds the sender's phone: the sender itself when addressed by
// phone number, else its phone-number alternative, else the LID map.
func senderPhone(src types.MessageSource, phoneOf phoneResolver) string {
	for _, jid := range []types.JID{src.Sender, src.SenderAlt} {
		if jid.Server == types.DefaultUserServer && jid.User != "" {
			return "+" + jid.User
		}
	}
	for _, jid := range []types.JID{src.Sender, src.SenderAlt} {
		if jid.Server == types.HiddenUserServer && phoneOf != nil {
			if p := phoneOf(jid.ToNonAD()); p != "" {
				return p
			}
		}
	}
	return ""
}

// senderLID is the user part of the sender's LID, from the sender itself
// or its alternative; "" when WhatsApp gave none.
func senderLID(src types.MessageSource) string {
	for _, jid := range []types.JID{src.Sender, src.SenderAlt} {
		if jid.Server == types.HiddenUserServer && jid.User != "" {
			return jid.User
		}
	}
	return ""
}

// fillContent sets in's kind and content from msg; false means msg holds
// nothing a person sent.
func fillContent(in *Inbound, msg *waE2E.Message) bool {
	if msg.ProtocolMessage != nil || msg.SenderKeyDistributionMessage != nil {
		// Revokes, edits, settings and group keys: bookkeeping, not content.
		// Group keys only come with group messages, which apiws drops anyway.
		return false
	}
	if ctx := fillKind(in, msg); ctx != nil {
		fillContext(in, ctx.GetContextInfo())
	}
	return true
}

// quoting is a message part that can quote and mention: each kind of
// whatsmeow message with a ContextInfo.
type quoting interface {
	GetContextInfo() *waE2E.ContextInfo
}

// fillKind sets in's kind and the content of that kind from msg, and
// returns the part that carries the context (quote, mentions), nil when
// it has none.
func fillKind(in *Inbound, msg *waE2E.Message) quoting {
	media := func(kind apiws.MessageKind, mime, name, caption string, size uint64) {
		in.Kind, in.Text = kind, caption
		in.Media = &InboundMedia{MimeType: mime, FileName: name, Caption: caption, Size: int64(size)}
	}
	switch {
	case msg.Conversation != nil:
		in.Kind, in.Text = apiws.KindText, msg.GetConversation()
	case msg.ExtendedTextMessage != nil:
		m := msg.GetExtendedTextMessage()
		in.Kind, in.Text = apiws.KindText, m.GetText()
		return m
	case msg.ImageMessage != nil:
		m := msg.GetImageMessage()
		media(apiws.KindImage, m.GetMimetype(), "", m.GetCaption(), m.GetFileLength())
		return m
	case msg.DocumentMessage != nil:
		m := msg.GetDocumentMessage()
		name := m.GetFileName()
		if name == "" {
			name = m.GetTitle()
		}
		media(apiws.KindDocument, m.GetMimetype(), name, m.GetCaption(), m.GetFileLength())
		return m
	case msg.AudioMessage != nil:
		m := msg.GetAudioMessage()
		media(apiws.KindAudio, m.GetMimetype(), "", "", m.GetFileLength())
		return m
	case msg.VideoMessage != nil:
		m := msg.GetVideoMessage()
		media(apiws.KindVideo, m.GetMimetype(), "", m.GetCaption(), m.GetFileLength())
		return m
	case msg.StickerMessage != nil:
		m := msg.GetStickerMessage()
		media(apiws.KindSticker, m.GetMimetype(), "", "", m.GetFileLength())
		return m
	case msg.LocationMessage != nil:
		m := msg.GetLocationMessage()
		in.Kind = apiws.KindLocation
		in.Location = &apiws.Location{Latitude: m.GetDegreesLatitude(), Longitude: m.GetDegreesLongitude(),
			Name: apiws.NilIfEmpty(m.GetName()), Address: apiws.NilIfEmpty(m.GetAddress())}
		return m
	case msg.LiveLocationMessage != nil:
		m := msg.GetLiveLocationMessage()
		in.Kind, in.Text = apiws.KindLocation, m.GetCaption()
		in.Location = &apiws.Location{Latitude: m.GetDegreesLatitude(), Longitude: m.GetDegreesLongitude()}
		return m
	case msg.ContactMessage != nil:
		m := msg.GetContactMessage()
		in.Kind, in.Contacts = apiws.KindContact, []apiws.ContactCard{contactCard(m)}
		return m
	case msg.ContactsArrayMessage != nil:
		m := msg.GetContactsArrayMessage()
		in.Kind, in.Contacts = apiws.KindContact, make([]apiws.ContactCard, 0, len(m.GetContacts()))
		for _, c := range m.GetContacts() {
			in.Contacts = append(in.Contacts, contactCard(c))
		}
		return m
	case pollCreation(msg) != nil:
		m := pollCreation(msg)
		in.Kind, in.Poll = apiws.KindPoll, poll(m)
		return m
	case msg.ReactionMessage != nil:
		m := msg.GetReactionMessage()
		in.Kind, in.Text = apiws.KindReaction, m.GetText()
	default:
		in.Kind = apiws.KindOther
	}
	return nil
}

// pollCreation is the poll msg opens, in whichever of whatsmeow's versions
// of the poll message it came; nil if msg opens none.
func pollCreation(msg *waE2E.Message) *waE2E.PollCreationMessage {
	for _, p := range []*waE2E.PollCreationMessage{msg.GetPollCreationMessage(), msg.GetPollCreationMessageV2(),
		msg.GetPollCreationMessageV3(), msg.GetPollCreationMessageV5(), msg.GetPollCreationMessageV6()} {
		if p != nil {
			return p
		}
	}
	return nil
}

// poll is the question, options and choice count of a poll message. A
// count of 0 is WhatsApp's "any number": as many as there are options.
func poll(m *waE2E.PollCreationMessage) *apiws.Poll {
	p := &apiws.Poll{Question: m.GetName(), Options: make([]string, 0, len(m.GetOptions())), SelectableCount: int(m.GetSelectableOptionsCount())}
	for _, o := range m.GetOptions() {
		p.Options = append(p.Options, o.GetOptionName())
	}
	if p.SelectableCount == 0 {
		p.SelectableCount = len(p.Options)
	}
	return p
}

// contactCard reads a shared contact: its name (the display name, else the
// card's), its phones and the vCard as it came.
func contactCard(m *waE2E.ContactMessage) apiws.ContactCard {
	name, phones := parseVCard(m.GetVcard())
	if m.GetDisplayName() != "" {
		name = m.GetDisplayName()
	}
	return apiws.ContactCard{Name: name, Phones: phones, VCard: m.GetVcard()}
}

// fillContext sets the quoted message's id and the mentions from a
// message's context.
func fillContext(in *Inbound, ctx *waE2E.ContextInfo) {
	in.QuotedID = ctx.GetStanzaID()
	for _, s := range ctx.GetMentionedJID() {
		if p, ok := mentionOf(s); ok {
			in.Mentions = append(in.Mentions, p)
		}
	}
}

// mentionOf is the person a mentioned JID names: a phone for a
// phone-number JID, a LID for a hidden one; false for anything else.
func mentionOf(s string) (apiws.Peer, bool) {
	jid, err := types.ParseJID(s)
	if err != nil || jid.User == "" {
		return apiws.Peer{}, false
	}
	switch jid.Server {
	case types.DefaultUserServer:
		if p, err := normalizePhone("+" + jid.User); err == nil {
			return apiws.Peer{Phone: &p}, true
		}
	case types.HiddenUserServer:
		if isLID(jid.User) {
			lid := jid.User
			return apiws.Peer{LID: &lid}, true
		}
	}
	return apiws.Peer{}, false
}
