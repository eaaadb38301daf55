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
	media := func(mime, name, caption string, size uint64) {
		in.Text = caption
		in.Media = &InboundMedia{MimeType: mime, FileName: name, Caption: caption, Size: int64(size)}
	}
	switch {
	case msg.Conversation != nil:
		in.Kind, in.Text = apiws.KindText, msg.GetConversation()
	case msg.ExtendedTextMessage != nil:
		in.Kind, in.Text = apiws.KindText, msg.GetExtendedTextMessage().GetText()
	case msg.ImageMessage != nil:
		m := msg.GetImageMessage()
		in.Kind = apiws.KindImage
		media(m.GetMimetype(), "", m.GetCaption(), m.GetFileLength())
	case msg.DocumentMessage != nil:
		m := msg.GetDocumentMessage()
		in.Kind = apiws.KindDocument
		name := m.GetFileName()
		if name == "" {
			name = m.GetTitle()
		}
		media(m.GetMimetype(), name, m.GetCaption(), m.GetFileLength())
	case msg.AudioMessage != nil:
		m := msg.GetAudioMessage()
		in.Kind = apiws.KindAudio
		media(m.GetMimetype(), "", "", m.GetFileLength())
	case msg.VideoMessage != nil:
		m := msg.GetVideoMessage()
		in.Kind = apiws.KindVideo
		media(m.GetMimetype(), "", m.GetCaption(), m.GetFileLength())
	case msg.LocationMessage != nil:
		m := msg.GetLocationMessage()
		in.Kind, in.Text = apiws.KindLocation, m.GetName()
		in.Latitude, in.Longitude = m.GetDegreesLatitude(), m.GetDegreesLongitude()
	case msg.LiveLocationMessage != nil:
		m := msg.GetLiveLocationMessage()
		in.Kind, in.Text = apiws.KindLocation, m.GetCaption()
		in.Latitude, in.Longitude = m.GetDegreesLatitude(), m.GetDegreesLongitude()
	case msg.ReactionMessage != nil:
		m := msg.GetReactionMessage()
		in.Kind, in.Text, in.ReactionTo = apiws.KindReaction, m.GetText(), m.GetKey().GetID()
	case msg.StickerMessage != nil:
		m := msg.GetStickerMessage()
		in.Kind = apiws.KindOther
		media(m.GetMimetype(), "", "", m.GetFileLength())
	case msg.ProtocolMessage != nil, msg.SenderKeyDistributionMessage != nil:
		// Revokes, edits, settings and group keys: bookkeeping, not content.
		// Group keys only come with group messages, which apiws drops anyway.
		return false
	default:
		in.Kind = apiws.KindOther
	}
	return true
}
