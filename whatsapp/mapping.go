package whatsapp

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
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

// messageEnv is what mapping a message needs from outside it; each part
// may be nil.
type messageEnv struct {
	// phoneOf finds the phone behind a LID.
	phoneOf phoneResolver
	// vote decrypts a poll vote (whatsmeow's Client.DecryptPollVote).
	vote func(*events.Message) (*waE2E.PollVoteMessage, error)
	// secret decrypts a message encrypted with the secret of the message
	// it is about (whatsmeow's Client.DecryptSecretEncryptedMessage).
	secret func(*events.Message) (*waE2E.Message, error)
	// pollOptions returns the options of a poll the number sent, by the
	// poll's WhatsApp id; nil when they are no longer known.
	pollOptions func(pollID string) []string
}

// mapMessage turns an incoming whatsmeow message into the event it is: an
// *Inbound, or a *Reacted, *Edited, *Revoked or *PollVoted about an
// earlier message of the chat; in a group (Inbound.Group), From is the
// participant who wrote it. Broadcast, status and newsletter traffic,
// protocol messages that carry nothing for a person (settings,
// keys, history) and messages the number sent from another of its devices
// are dropped: ok is false. What the number did to a message from another
// of its devices is reported, with FromMe.
func mapMessage(numberID string, evt *events.Message, env messageEnv) (ev Event, ok bool) {
	info := evt.Info
	msg := evt.Message
	if !(isDirect(info.MessageSource) || isGroupChat(info.MessageSource)) || msg == nil {
		return nil, false
	}
	from, fromLID := senderPhone(info.MessageSource, env.phoneOf), senderLID(info.MessageSource)
	group := ""
	if info.IsGroup {
		group = info.Chat.ToNonAD().String()
	}
	switch {
	case msg.ReactionMessage != nil:
		r := msg.GetReactionMessage()
		if r.GetKey().GetID() == "" {
			return nil, false
		}
		return &Reacted{NumberID: numberID, WAMessageID: string(info.ID), Group: group, TargetID: r.GetKey().GetID(),
			From: from, FromLID: fromLID, FromMe: info.IsFromMe, Emoji: r.GetText(), At: info.Timestamp}, true
	case msg.ProtocolMessage != nil:
		ev, ok = mapProtocol(numberID, info, msg.GetProtocolMessage(), from, fromLID)
	case msg.PollUpdateMessage != nil:
		ev, ok = mapPollVote(numberID, evt, env, from, fromLID)
	case msg.SecretEncryptedMessage != nil:
		ev, ok = mapSecretEdit(numberID, evt, env, from, fromLID)
	default:
		return mapInbound(numberID, evt, from, fromLID, group)
	}
	if ok {
		setGroup(ev, group)
	}
	return ev, ok
}

// setGroup names the group of the chat an Edited, Revoked or PollVoted
// happened in.
func setGroup(ev Event, group string) {
	switch e := ev.(type) {
	case *Edited:
		e.Group = group
	case *Revoked:
		e.Group = group
	case *PollVoted:
		e.Group = group
	}
}

// mapInbound turns a message someone wrote into an *Inbound; the number's
// own (from another of its devices) and key-only messages are dropped.
func mapInbound(numberID string, evt *events.Message, from, fromLID, group string) (Event, bool) {
	info, msg := evt.Info, evt.Message
	if info.IsFromMe || keysOnly(msg) {
		return nil, false
	}
	in := &Inbound{NumberID: numberID, WAMessageID: string(info.ID), From: from, FromLID: fromLID,
		PushName: info.PushName, Group: group, At: info.Timestamp}
	if ctx := fillKind(in, msg); ctx != nil {
		fillContext(in, ctx.GetContextInfo())
	}
	return in, true
}

// senderOf is who sent the message an event of mapMessage's tells of:
// phone, LID and whether it was the number itself.
func senderOf(ev Event) (phone, lid string, fromMe bool) {
	switch e := ev.(type) {
	case *Inbound:
		return e.From, e.FromLID, false
	case *Reacted:
		return e.From, e.FromLID, e.FromMe
	case *Edited:
		return e.From, e.FromLID, e.FromMe
	case *Revoked:
		return e.From, e.FromLID, e.FromMe
	case *PollVoted:
		return e.From, e.FromLID, e.FromMe
	}
	return "", "", false
}

// isDirect says whether a message is of a one-to-one chat, by phone or
// by LID: not a group's, a broadcast list's, a status or a newsletter's.
func isDirect(src types.MessageSource) bool {
	return !src.IsGroup && (src.Chat.Server == types.DefaultUserServer || src.Chat.Server == types.HiddenUserServer)
}

// mapProtocol turns an edit or a revoke into its event; every other
// protocol message is bookkeeping (keys, settings, history): dropped.
// whatsmeow unwraps an edit's EditedMessage, leaving the MESSAGE_EDIT
// protocol message that carries the new content.
func mapProtocol(numberID string, info types.MessageInfo, pm *waE2E.ProtocolMessage, from, fromLID string) (Event, bool) {
	target := pm.GetKey().GetID()
	if target == "" {
		return nil, false
	}
	switch pm.GetType() {
	case waE2E.ProtocolMessage_MESSAGE_EDIT:
		return &Edited{NumberID: numberID, WAMessageID: string(info.ID), TargetID: target, From: from, FromLID: fromLID,
			FromMe: info.IsFromMe, Text: editedText(pm.GetEditedMessage()), At: info.Timestamp}, true
	case waE2E.ProtocolMessage_REVOKE:
		return &Revoked{NumberID: numberID, WAMessageID: string(info.ID), TargetID: target, From: from, FromLID: fromLID,
			FromMe: info.IsFromMe, At: info.Timestamp}, true
	}
	return nil, false
}

// mapSecretEdit turns an edit sent encrypted with the edited message's
// secret (a SecretEncryptedMessage of type MESSAGE_EDIT, as newer apps
// send edits; whatsmeow leaves it to decrypt) into an Edited. Its content
// is the new message, or the MESSAGE_EDIT protocol message that carries
// it. Other secret-encrypted messages (of polls and events), and edits
// that do not decrypt (their new text is unknown), are dropped.
func mapSecretEdit(numberID string, evt *events.Message, env messageEnv, from, fromLID string) (Event, bool) {
	sec := evt.Message.GetSecretEncryptedMessage()
	target := sec.GetTargetMessageKey().GetID()
	if sec.GetSecretEncType() != waE2E.SecretEncryptedMessage_MESSAGE_EDIT || target == "" || env.secret == nil {
		return nil, false
	}
	content, err := env.secret(evt)
	if err != nil || content == nil {
		return nil, false
	}
	if inner := content.GetEditedMessage().GetMessage(); inner != nil {
		content = inner
	}
	if pm := content.GetProtocolMessage(); pm.GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT && pm.GetEditedMessage() != nil {
		content = pm.GetEditedMessage()
	}
	return &Edited{NumberID: numberID, WAMessageID: string(evt.Info.ID), TargetID: target, From: from, FromLID: fromLID,
		FromMe: evt.Info.IsFromMe, Text: editedText(content), At: evt.Info.Timestamp}, true
}

// editedText is the new text of an edit: the text of a text message, the
// caption of media.
func editedText(m *waE2E.Message) string {
	switch {
	case m.Conversation != nil:
		return m.GetConversation()
	case m.ExtendedTextMessage != nil:
		return m.GetExtendedTextMessage().GetText()
	case m.ImageMessage != nil:
		return m.GetImageMessage().GetCaption()
	case m.VideoMessage != nil:
		return m.GetVideoMessage().GetCaption()
	case m.DocumentMessage != nil:
		return m.GetDocumentMessage().GetCaption()
	}
	return ""
}

// mapPollVote turns a poll update into a PollVoted: the options chosen,
// by name, when the poll's options are known and the vote decrypts.
func mapPollVote(numberID string, evt *events.Message, env messageEnv, from, fromLID string) (Event, bool) {
	pollID := evt.Message.GetPollUpdateMessage().GetPollCreationMessageKey().GetID()
	if pollID == "" {
		return nil, false
	}
	v := &PollVoted{NumberID: numberID, WAMessageID: string(evt.Info.ID), PollID: pollID, From: from, FromLID: fromLID,
		FromMe: evt.Info.IsFromMe, At: evt.Info.Timestamp}
	if env.pollOptions == nil || env.vote == nil {
		return v, true
	}
	options := env.pollOptions(pollID)
	if options == nil {
		return v, true
	}
	if vote, err := env.vote(evt); err == nil {
		v.Options = chosenOptions(vote.GetSelectedOptions(), options)
	}
	return v, true
}

// chosenOptions names the options whose SHA-256 hashes (whatsmeow's
// HashPollOptions) a vote selected, in the poll's order; nil when a hash
// matches none of options (they are not the poll's). An empty selection
// is a vote withdrawn: empty, not nil.
func chosenOptions(selected [][]byte, options []string) []string {
	hashes := whatsmeow.HashPollOptions(options)
	picked := make([]bool, len(options))
	for _, h := range selected {
		i := slices.IndexFunc(hashes, func(o []byte) bool { return bytes.Equal(o, h) })
		if i < 0 {
			return nil
		}
		picked[i] = true
	}
	out := []string{}
	for i, o := range options {
		if picked[i] {
			out = append(out, o)
		}
	}
	return out
}

// mapUndecryptable turns a message the number could not decrypt into an
// Inbound of kind OTHER with the error UNDECRYPTABLE; the same messages
// as mapMessage's are dropped.
func mapUndecryptable(numberID string, evt *events.UndecryptableMessage, phoneOf phoneResolver) (*Inbound, bool) {
	info := evt.Info
	if !isDirect(info.MessageSource) || info.IsFromMe {
		return nil, false
	}
	msg := "the message could not be decrypted; it can be read on the phone"
	if evt.UnavailableType == events.UnavailableTypeViewOnce {
		msg = "a view-once message: it can be seen on the phone only"
	}
	return &Inbound{NumberID: numberID, WAMessageID: string(info.ID), From: senderPhone(info.MessageSource, phoneOf),
		FromLID: senderLID(info.MessageSource), PushName: info.PushName, Kind: apiws.KindOther, At: info.Timestamp,
		Error: &apiws.MessageError{Code: apiws.MsgErrUndecryptable, Message: msg}}, true
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
		in.Media = &InboundMedia{MimeType: mime, FileName: name, Caption: caption, Size: int64(size), Ref: mediaRef(msg)}
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
