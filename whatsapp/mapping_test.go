package whatsapp

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

var (
	testTime  = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	peerPN    = types.NewJID("14155552671", types.DefaultUserServer)
	peerLID   = types.NewJID("123456789012345", types.HiddenUserServer)
	unknownLD = types.NewJID("999999999999999", types.HiddenUserServer)
)

func receiptOf(typ types.ReceiptType, fromMe bool, ids ...types.MessageID) *events.Receipt {
	return &events.Receipt{
		MessageSource: types.MessageSource{Chat: peerPN, Sender: peerPN, IsFromMe: fromMe},
		MessageIDs:    ids, Timestamp: testTime, Type: typ,
	}
}

var receiptTests = []struct {
	name   string
	evt    *events.Receipt
	want   apiws.MessageStatus // "" means dropped
	failed bool
}{
	{"delivered", receiptOf(types.ReceiptTypeDelivered, false, "3EB0A", "3EB0B"), apiws.StatusDelivered, false},
	{"read", receiptOf(types.ReceiptTypeRead, false, "3EB0A"), apiws.StatusRead, false},
	{"played", receiptOf(types.ReceiptTypePlayed, false, "3EB0A"), apiws.StatusPlayed, false},
	{"server error asks for a re-upload: ignored", receiptOf(types.ReceiptTypeServerError, false, "3EB0A"), "", false},
	{"inactive is a delivery", receiptOf(types.ReceiptTypeInactive, false, "3EB0A"), apiws.StatusDelivered, false},
	{"sender receipt from own device is ignored", receiptOf(types.ReceiptTypeSender, true, "3EB0A"), "", false},
	{"read-self is ignored", receiptOf(types.ReceiptTypeReadSelf, true, "3EB0A"), "", false},
	{"played-self is ignored", receiptOf(types.ReceiptTypePlayedSelf, true, "3EB0A"), "", false},
	{"retry is ignored", receiptOf(types.ReceiptTypeRetry, false, "3EB0A"), "", false},
	{"no ids is ignored", receiptOf(types.ReceiptTypeRead, false), "", false},
}

func TestMapReceipt(t *testing.T) {
	for _, tt := range receiptTests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := mapReceipt("num_1", tt.evt)
			if tt.want == "" {
				if ok {
					t.Fatalf("want dropped, got %+v", r)
				}
				return
			}
			if !ok || r.Status != tt.want || r.NumberID != "num_1" || !r.At.Equal(testTime) {
				t.Fatalf("got %+v, %v; want %s", r, ok, tt.want)
			}
			if len(r.MessageIDs) != len(tt.evt.MessageIDs) || r.MessageIDs[0] != "3EB0A" {
				t.Errorf("ids %v", r.MessageIDs)
			}
			if (r.Error != nil) != tt.failed || tt.failed && (r.Error.Code != CodeSendFailed || r.Error.Retryable) {
				t.Errorf("error %+v, want failed=%v", r.Error, tt.failed)
			}
		})
	}
}

var connectionTests = []struct {
	name string
	evt  any
	want *StateChange // nil means dropped
}{
	{"connected", &events.Connected{}, &StateChange{Status: apiws.NumberConnected}},
	{"disconnected reconnects", &events.Disconnected{}, &StateChange{Status: apiws.NumberDisconnected, Reason: "connection lost, reconnecting"}},
	{"logged out on connect", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureLoggedOut},
		&StateChange{Status: apiws.NumberLoggedOut, Code: 401, Reason: events.ConnectFailureLoggedOut.String(), Permanent: true}},
	{"403 logout is a lock: banned", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureMainDeviceGone},
		&StateChange{Status: apiws.NumberBanned, Code: 403, Reason: "403: whatsapp locked this account", Permanent: true}},
	{"406 logout is a ban: banned", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureUnknownLogout},
		&StateChange{Status: apiws.NumberBanned, Code: 406, Reason: "406: whatsapp banned this account", Permanent: true}},
	{"logged out by stream error", &events.LoggedOut{}, &StateChange{Status: apiws.NumberLoggedOut, Reason: "logged out from the phone", Permanent: true}},
	{"stream replaced", &events.StreamReplaced{}, &StateChange{Status: apiws.NumberDisconnected, Reason: "another connection took over this number's session", Permanent: true}},
	{"temporary ban with expiry", &events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: time.Hour},
		&StateChange{Status: apiws.NumberBanned, Code: 101, Reason: events.TempBanSentToTooManyPeople.String(), BanExpiresAt: ptr(testTime.Add(time.Hour)), Permanent: true}},
	{"temporary ban without expiry", &events.TemporaryBan{Code: events.TempBanBlockedByUsers},
		&StateChange{Status: apiws.NumberBanned, Code: 102, Reason: events.TempBanBlockedByUsers.String(), Permanent: true}},
	{"connect failure is permanent", &events.ConnectFailure{Reason: events.ConnectFailureBadUserAgent, Message: "nope"},
		&StateChange{Status: apiws.NumberDisconnected, Code: 409, Reason: "409: client user agent was rejected (nope)", Permanent: true}},
	{"server error connect failure retries", &events.ConnectFailure{Reason: events.ConnectFailureServiceUnavailable},
		&StateChange{Status: apiws.NumberDisconnected, Code: 503, Reason: "503: unknown error"}},
	{"client outdated is the connector's", &events.ClientOutdated{}, nil},
	{"unrelated event", &events.PushName{}, nil},
	{"keepalive timeout is told, not recorded", &events.KeepAliveTimeout{ErrorCount: 3, LastSuccess: testTime.Add(-time.Minute)},
		&StateChange{Status: apiws.NumberConnected, Notice: true, Reason: "whatsapp has not answered 3 keep-alive pings since 2025-01-02T03:03:05Z"}},
	{"keepalive restored is told, not recorded", &events.KeepAliveRestored{},
		&StateChange{Status: apiws.NumberConnected, Notice: true, Reason: "whatsapp answers keep-alive pings again"}},
}

func TestMapConnection(t *testing.T) {
	for _, tt := range connectionTests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := mapConnection("num_1", tt.evt, testTime)
			if tt.want == nil {
				if ok {
					t.Fatalf("want dropped, got %+v", got)
				}
				return
			}
			want := *tt.want
			want.NumberID, want.At = "num_1", testTime
			if !ok || !reflect.DeepEqual(*got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, &want)
			}
		})
	}
}

func incoming(src types.MessageSource, msg *waE2E.Message) *events.Message {
	return &events.Message{
		Info:    types.MessageInfo{MessageSource: src, ID: "3EB0IN", PushName: "Ann", Timestamp: testTime},
		Message: msg,
	}
}

var direct = types.MessageSource{Chat: peerPN, Sender: peerPN}

// bobCard is a card as WhatsApp's apps share it: folded lines, a phone with
// its WhatsApp id written locally, one without, and one that is no number.
const bobCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Builder;Bob;;;\r\nFN:Bob Builder\r\n" +
	"item1.TEL;waid=4915112345678:+49 151 12345678\r\nitem1.X-ABLabel:Mobile\r\n" +
	"TEL;type=WORK:+1 (415) 555-0199\r\nTEL:ask at the desk\r\nEND:VCARD\r\n"

func pollMsg(selectable uint32) *waE2E.PollCreationMessage {
	return &waE2E.PollCreationMessage{Name: proto.String("Lunch?"), SelectableOptionsCount: proto.Uint32(selectable),
		Options: []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("Pizza")}, {OptionName: proto.String("Sushi")}}}
}

var messageTests = []struct {
	name string
	evt  *events.Message
	want *Inbound // nil means dropped; NumberID, WAMessageID, PushName, At are filled in
}{
	{"conversation text", incoming(direct, &waE2E.Message{Conversation: proto.String("hi")}),
		&Inbound{From: "+14155552671", Kind: apiws.KindText, Text: "hi"}},
	{"extended text", incoming(direct, &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("see https://x.y")}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindText, Text: "see https://x.y"}},
	{"image", incoming(direct, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Mimetype: proto.String("image/jpeg"), Caption: proto.String("cat"), FileLength: proto.Uint64(1234)}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindImage, Text: "cat", Media: &InboundMedia{MimeType: "image/jpeg", Caption: "cat", Size: 1234}}},
	{"document", incoming(direct, &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{Mimetype: proto.String("application/pdf"), FileName: proto.String("a.pdf"), FileLength: proto.Uint64(9)}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindDocument, Media: &InboundMedia{MimeType: "application/pdf", FileName: "a.pdf", Size: 9}}},
	{"audio", incoming(direct, &waE2E.Message{AudioMessage: &waE2E.AudioMessage{Mimetype: proto.String("audio/ogg; codecs=opus"), FileLength: proto.Uint64(77), PTT: proto.Bool(true)}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindAudio, Media: &InboundMedia{MimeType: "audio/ogg; codecs=opus", Size: 77}}},
	{"video", incoming(direct, &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Mimetype: proto.String("video/mp4"), Caption: proto.String("v"), FileLength: proto.Uint64(5)}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindVideo, Text: "v", Media: &InboundMedia{MimeType: "video/mp4", Caption: "v", Size: 5}}},
	{"location", incoming(direct, &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(52.5), DegreesLongitude: proto.Float64(13.4), Name: proto.String("Berlin"), Address: proto.String("Unter den Linden")}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindLocation, Location: &apiws.Location{Latitude: 52.5, Longitude: 13.4, Name: ptr("Berlin"), Address: ptr("Unter den Linden")}}},
	{"live location", incoming(direct, &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{DegreesLatitude: proto.Float64(-33.9), DegreesLongitude: proto.Float64(151.2), Caption: proto.String("on my way")}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindLocation, Text: "on my way", Location: &apiws.Location{Latitude: -33.9, Longitude: 151.2}}},
	{"contact card", incoming(direct, &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Bob"), Vcard: proto.String(bobCard)}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindContact, Contacts: []apiws.ContactCard{{Name: "Bob", Phones: []string{"+4915112345678", "+14155550199"}, VCard: bobCard}}}},
	{"contact card without a display name is named by its card", incoming(direct, &waE2E.Message{ContactMessage: &waE2E.ContactMessage{Vcard: proto.String(VCard("Eve Doe", []string{"+447700900123"}))}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindContact, Contacts: []apiws.ContactCard{{Name: "Eve Doe", Phones: []string{"+447700900123"}, VCard: VCard("Eve Doe", []string{"+447700900123"})}}}},
	{"contact card that is no vCard keeps its text", incoming(direct, &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Bob"), Vcard: proto.String("garbage")}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindContact, Contacts: []apiws.ContactCard{{Name: "Bob", Phones: []string{}, VCard: "garbage"}}}},
	{"contacts array", incoming(direct, &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{DisplayName: proto.String("2 contacts"), Contacts: []*waE2E.ContactMessage{
		{DisplayName: proto.String("Bob"), Vcard: proto.String(bobCard)},
		{DisplayName: proto.String("Eve"), Vcard: proto.String(VCard("Eve", []string{"+447700900123"}))},
	}}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindContact, Contacts: []apiws.ContactCard{
			{Name: "Bob", Phones: []string{"+4915112345678", "+14155550199"}, VCard: bobCard},
			{Name: "Eve", Phones: []string{"+447700900123"}, VCard: VCard("Eve", []string{"+447700900123"})},
		}}},
	{"poll", incoming(direct, &waE2E.Message{PollCreationMessage: pollMsg(1)}),
		&Inbound{From: "+14155552671", Kind: apiws.KindPoll, Poll: &apiws.Poll{Question: "Lunch?", Options: []string{"Pizza", "Sushi"}, SelectableCount: 1}}},
	{"poll v2", incoming(direct, &waE2E.Message{PollCreationMessageV2: pollMsg(2)}),
		&Inbound{From: "+14155552671", Kind: apiws.KindPoll, Poll: &apiws.Poll{Question: "Lunch?", Options: []string{"Pizza", "Sushi"}, SelectableCount: 2}}},
	{"poll v3 of any number of choices", incoming(direct, &waE2E.Message{PollCreationMessageV3: pollMsg(0)}),
		&Inbound{From: "+14155552671", Kind: apiws.KindPoll, Poll: &apiws.Poll{Question: "Lunch?", Options: []string{"Pizza", "Sushi"}, SelectableCount: 2}}},
	{"sticker", incoming(direct, &waE2E.Message{StickerMessage: &waE2E.StickerMessage{Mimetype: proto.String("image/webp"), FileLength: proto.Uint64(321)}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindSticker, Media: &InboundMedia{MimeType: "image/webp", Size: 321}}},
	{"reply with mentions", incoming(direct, &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("@14155550100 @123456789012345 yes"), ContextInfo: &waE2E.ContextInfo{
		StanzaID: proto.String("3EB0QUOTED"), Participant: proto.String(peerPN.String()),
		MentionedJID: []string{"14155550100@s.whatsapp.net", "123456789012345@lid", "1203630@g.us", "not a jid@"},
	}}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindText, Text: "@14155550100 @123456789012345 yes", QuotedID: "3EB0QUOTED",
			Mentions: []apiws.Peer{{Phone: ptr("+14155550100")}, {LID: ptr("123456789012345")}}}},
	{"image caption replying", incoming(direct, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Mimetype: proto.String("image/jpeg"), Caption: proto.String("this"), FileLength: proto.Uint64(10),
		ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("3EB0Q2"), MentionedJID: []string{"14155550100@s.whatsapp.net"}}}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindImage, Text: "this", Media: &InboundMedia{MimeType: "image/jpeg", Caption: "this", Size: 10},
			QuotedID: "3EB0Q2", Mentions: []apiws.Peer{{Phone: ptr("+14155550100")}}}},
	{"location replying", incoming(direct, &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(1), DegreesLongitude: proto.Float64(2),
		ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("3EB0Q3")}}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindLocation, Location: &apiws.Location{Latitude: 1, Longitude: 2}, QuotedID: "3EB0Q3"}},
	{"unknown content is other", incoming(direct, &waE2E.Message{GroupInviteMessage: &waE2E.GroupInviteMessage{GroupName: proto.String("club")}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindOther}},
	{"lid sender with phone alternative", incoming(types.MessageSource{Chat: peerLID, Sender: peerLID, SenderAlt: peerPN, AddressingMode: types.AddressingModeLID}, &waE2E.Message{Conversation: proto.String("x")}),
		&Inbound{From: "+14155552671", FromLID: peerLID.User, Kind: apiws.KindText, Text: "x"}},
	{"lid sender resolved by the lid map", incoming(types.MessageSource{Chat: peerLID, Sender: peerLID}, &waE2E.Message{Conversation: proto.String("x")}),
		&Inbound{From: "+14155550123", FromLID: peerLID.User, Kind: apiws.KindText, Text: "x"}},
	{"unknown lid leaves the phone empty and keeps the lid", incoming(types.MessageSource{Chat: unknownLD, Sender: unknownLD}, &waE2E.Message{Conversation: proto.String("x")}),
		&Inbound{FromLID: unknownLD.User, Kind: apiws.KindText, Text: "x"}},
	{"phone sender with lid alternative", incoming(types.MessageSource{Chat: peerPN, Sender: peerPN, SenderAlt: peerLID}, &waE2E.Message{Conversation: proto.String("x")}),
		&Inbound{From: "+14155552671", FromLID: peerLID.User, Kind: apiws.KindText, Text: "x"}},
	{"own message is dropped", incoming(types.MessageSource{Chat: peerPN, Sender: peerPN, IsFromMe: true}, &waE2E.Message{Conversation: proto.String("x")}), nil},
	{"group message, from its participant", incoming(types.MessageSource{Chat: types.NewJID("1203630", types.GroupServer), Sender: peerPN, IsGroup: true}, &waE2E.Message{Conversation: proto.String("x")}),
		&Inbound{From: "+14155552671", Group: "1203630@g.us", Kind: apiws.KindText, Text: "x"}},
	{"status broadcast is dropped", incoming(types.MessageSource{Chat: types.StatusBroadcastJID, Sender: peerPN}, &waE2E.Message{Conversation: proto.String("x")}), nil},
	{"newsletter post is dropped", incoming(types.MessageSource{Chat: types.NewJID("1203631", types.NewsletterServer), Sender: peerPN}, &waE2E.Message{Conversation: proto.String("x")}), nil},
	{"protocol message is dropped", incoming(direct, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_EPHEMERAL_SETTING.Enum(), Key: &waCommon.MessageKey{ID: proto.String("3EB0X")}}}), nil},
	{"a revoke without a target is dropped", incoming(direct, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}}), nil},
}

func TestMapMessage(t *testing.T) {
	phoneOf := func(j types.JID) string {
		if j == peerLID {
			return "+14155550123"
		}
		return ""
	}
	for _, tt := range messageTests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok := mapMessage("num_1", tt.evt, messageEnv{phoneOf: phoneOf})
			if tt.want == nil {
				if ok {
					t.Fatalf("want dropped, got %+v", ev)
				}
				return
			}
			got, isIn := ev.(*Inbound)
			if !ok || !isIn {
				t.Fatalf("got %#v, want an Inbound", ev)
			}
			if got.Media != nil {
				// Its content is TestMediaRef's.
				if len(got.Media.Ref) == 0 {
					t.Error("media without a reference to download it by")
				}
				m := *got.Media
				m.Ref, got.Media = nil, &m
			}
			want := *tt.want
			want.NumberID, want.WAMessageID, want.PushName, want.At = "num_1", "3EB0IN", "Ann", testTime
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, &want)
			}
		})
	}
}

func TestInboundContent(t *testing.T) {
	in := &Inbound{Kind: apiws.KindSticker, Media: &InboundMedia{MimeType: "image/webp", Size: 3}, QuotedID: "3EB0Q",
		Mentions: []apiws.Peer{{LID: ptr("123")}}}
	want := &apiws.MessageContent{Media: &apiws.MediaInfo{Kind: apiws.KindSticker, MimeType: "image/webp", SizeBytes: 3},
		QuotedWAMessageID: ptr("3EB0Q"), Mentions: []apiws.Peer{{LID: ptr("123")}}}
	if got := in.Content(); !reflect.DeepEqual(got, want) {
		t.Errorf("content %+v, want %+v", got, want)
	}
	poll := &apiws.Poll{Question: "Q", Options: []string{"a", "b"}, SelectableCount: 1}
	want = &apiws.MessageContent{Poll: poll, Mentions: []apiws.Peer{}}
	if got := (&Inbound{Kind: apiws.KindPoll, Poll: poll}).Content(); !reflect.DeepEqual(got, want) {
		t.Errorf("poll content %+v, want %+v", got, want)
	}
}

// delivered is a message as whatsmeow dispatches it: the raw message,
// unwrapped by whatsmeow's own UnwrapRaw (edits, device-sent copies).
func delivered(src types.MessageSource, id types.MessageID, raw *waE2E.Message) *events.Message {
	evt := &events.Message{Info: types.MessageInfo{MessageSource: src, ID: id, PushName: "Ann", Timestamp: testTime}, RawMessage: raw}
	return evt.UnwrapRaw()
}

var (
	ownPN = types.NewJID("15550123456", types.DefaultUserServer)
	// fromPhone is a message of the number itself, from its phone, in the
	// chat with peerPN.
	fromPhone = types.MessageSource{Chat: peerPN, Sender: ownPN, IsFromMe: true}
	builder   = new(whatsmeow.Client)
)

// pollVotes plays whatsmeow's decryption of poll votes: the options
// chosen, hashed, by vote id; an error for any other.
func pollVotes(chosen map[types.MessageID][]string) func(*events.Message) (*waE2E.PollVoteMessage, error) {
	return func(evt *events.Message) (*waE2E.PollVoteMessage, error) {
		names, ok := chosen[evt.Info.ID]
		if !ok {
			return nil, whatsmeow.ErrOriginalMessageSecretNotFound
		}
		return &waE2E.PollVoteMessage{SelectedOptions: whatsmeow.HashPollOptions(names)}, nil
	}
}

func voteOn(pollID string) *waE2E.Message {
	return &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{
		// The key as the voter has it: the number's poll, not the voter's.
		PollCreationMessageKey: &waCommon.MessageKey{ID: proto.String(pollID), FromMe: proto.Bool(false), RemoteJID: proto.String(ownPN.String())},
		Vote:                   &waE2E.PollEncValue{EncPayload: []byte("sealed"), EncIV: []byte("iv")},
	}}
}

var actionTests = []struct {
	name string
	evt  *events.Message
	want Event // nil means dropped
}{
	{"reaction", delivered(direct, "R1", builder.BuildReaction(peerPN, ownPN, "3EB0OUT", "👍")),
		&Reacted{NumberID: "num_1", WAMessageID: "R1", TargetID: "3EB0OUT", From: "+14155552671", Emoji: "👍", At: testTime}},
	{"reaction removed", delivered(direct, "R2", builder.BuildReaction(peerPN, ownPN, "3EB0OUT", "")),
		&Reacted{NumberID: "num_1", WAMessageID: "R2", TargetID: "3EB0OUT", From: "+14155552671", At: testTime}},
	{"reaction from the number's phone", delivered(fromPhone, "R3", &waE2E.Message{DeviceSentMessage: &waE2E.DeviceSentMessage{
		DestinationJID: proto.String(peerPN.String()), Message: builder.BuildReaction(peerPN, peerPN, "3EB0IN", "❤️")}}),
		&Reacted{NumberID: "num_1", WAMessageID: "R3", TargetID: "3EB0IN", From: "+15550123456", FromMe: true, Emoji: "❤️", At: testTime}},
	{"reaction from a hidden sender", delivered(types.MessageSource{Chat: unknownLD, Sender: unknownLD}, "R4", builder.BuildReaction(unknownLD, ownPN, "3EB0OUT", "🙏")),
		&Reacted{NumberID: "num_1", WAMessageID: "R4", TargetID: "3EB0OUT", FromLID: unknownLD.User, Emoji: "🙏", At: testTime}},
	{"reaction in a group", delivered(types.MessageSource{Chat: types.NewJID("1203630", types.GroupServer), Sender: peerPN, IsGroup: true}, "R5",
		builder.BuildReaction(types.NewJID("1203630", types.GroupServer), ownPN, "3EB0OUT", "👍")),
		&Reacted{NumberID: "num_1", Group: "1203630@g.us", WAMessageID: "R5", TargetID: "3EB0OUT", From: "+14155552671", Emoji: "👍", At: testTime}},
	{"revoke in a group", delivered(types.MessageSource{Chat: types.NewJID("1203630", types.GroupServer), Sender: peerPN, IsGroup: true}, "V5",
		builder.BuildRevoke(types.NewJID("1203630", types.GroupServer), peerPN, "3EB0T")),
		&Revoked{NumberID: "num_1", Group: "1203630@g.us", WAMessageID: "V5", TargetID: "3EB0T", From: "+14155552671", At: testTime}},
	{"edit of a text", delivered(direct, "E1", builder.BuildEdit(peerPN, "3EB0T", &waE2E.Message{Conversation: proto.String("fixed")})),
		&Edited{NumberID: "num_1", WAMessageID: "E1", TargetID: "3EB0T", From: "+14155552671", Text: "fixed", At: testTime}},
	{"edit of an extended text", delivered(direct, "E2", builder.BuildEdit(peerPN, "3EB0T", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("see x.y")}})),
		&Edited{NumberID: "num_1", WAMessageID: "E2", TargetID: "3EB0T", From: "+14155552671", Text: "see x.y", At: testTime}},
	{"edit of a caption", delivered(direct, "E3", builder.BuildEdit(peerPN, "3EB0I", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("new caption")}})),
		&Edited{NumberID: "num_1", WAMessageID: "E3", TargetID: "3EB0I", From: "+14155552671", Text: "new caption", At: testTime}},
	{"edit from the number's phone", delivered(fromPhone, "E4", builder.BuildEdit(peerPN, "3EB0MINE", &waE2E.Message{Conversation: proto.String("typo")})),
		&Edited{NumberID: "num_1", WAMessageID: "E4", TargetID: "3EB0MINE", From: "+15550123456", FromMe: true, Text: "typo", At: testTime}},
	{"edit not wrapped in an edited message", delivered(direct, "E5", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: &waCommon.MessageKey{ID: proto.String("3EB0T")}, EditedMessage: &waE2E.Message{Conversation: proto.String("v2")}}}),
		&Edited{NumberID: "num_1", WAMessageID: "E5", TargetID: "3EB0T", From: "+14155552671", Text: "v2", At: testTime}},
	{"revoke", delivered(direct, "D1", builder.BuildRevoke(peerPN, types.EmptyJID, "3EB0T")),
		&Revoked{NumberID: "num_1", WAMessageID: "D1", TargetID: "3EB0T", From: "+14155552671", At: testTime}},
	{"revoke from the number's phone", delivered(fromPhone, "D2", builder.BuildRevoke(peerPN, types.EmptyJID, "3EB0MINE")),
		&Revoked{NumberID: "num_1", WAMessageID: "D2", TargetID: "3EB0MINE", From: "+15550123456", FromMe: true, At: testTime}},
	{"revoke in a status is dropped", delivered(types.MessageSource{Chat: types.StatusBroadcastJID, Sender: peerPN}, "D3", builder.BuildRevoke(types.StatusBroadcastJID, types.EmptyJID, "3EB0S")), nil},
	{"edit encrypted with the message's secret", delivered(direct, "S1", secretEdit("3EB0T", waE2E.SecretEncryptedMessage_MESSAGE_EDIT)),
		&Edited{NumberID: "num_1", WAMessageID: "S1", TargetID: "3EB0T", From: "+14155552671", Text: "secret fix", At: testTime}},
	{"encrypted edit holding the protocol message", delivered(direct, "S2", secretEdit("3EB0T", waE2E.SecretEncryptedMessage_MESSAGE_EDIT)),
		&Edited{NumberID: "num_1", WAMessageID: "S2", TargetID: "3EB0T", From: "+14155552671", Text: "enveloped", At: testTime}},
	{"encrypted edit that does not decrypt is dropped", delivered(direct, "S3", secretEdit("3EB0T", waE2E.SecretEncryptedMessage_MESSAGE_EDIT)), nil},
	{"encrypted poll edit is dropped", delivered(direct, "S4", secretEdit("3EB0POLL", waE2E.SecretEncryptedMessage_POLL_EDIT)), nil},
	{"vote on a poll the number sent", delivered(direct, "V1", voteOn("3EB0POLL")),
		&PollVoted{NumberID: "num_1", WAMessageID: "V1", PollID: "3EB0POLL", From: "+14155552671", Options: []string{"Pizza", "Sushi"}, At: testTime}},
	{"vote withdrawn", delivered(direct, "V2", voteOn("3EB0POLL")),
		&PollVoted{NumberID: "num_1", WAMessageID: "V2", PollID: "3EB0POLL", From: "+14155552671", Options: []string{}, At: testTime}},
	{"vote for options the poll does not have", delivered(direct, "V3", voteOn("3EB0POLL")),
		&PollVoted{NumberID: "num_1", WAMessageID: "V3", PollID: "3EB0POLL", From: "+14155552671", At: testTime}},
	{"vote that does not decrypt", delivered(direct, "V4", voteOn("3EB0POLL")),
		&PollVoted{NumberID: "num_1", WAMessageID: "V4", PollID: "3EB0POLL", From: "+14155552671", At: testTime}},
	{"vote on a poll no longer known", delivered(direct, "V1", voteOn("3EB0GONE")),
		&PollVoted{NumberID: "num_1", WAMessageID: "V1", PollID: "3EB0GONE", From: "+14155552671", At: testTime}},
	{"vote from the number's phone", delivered(fromPhone, "V5", voteOn("3EB0POLL")),
		&PollVoted{NumberID: "num_1", WAMessageID: "V5", PollID: "3EB0POLL", From: "+15550123456", FromMe: true, Options: []string{"Sushi"}, At: testTime}},
}

// secretEdit is an edit of the message target as newer apps send it:
// encrypted with the target's secret.
func secretEdit(target string, typ waE2E.SecretEncryptedMessage_SecretEncType) *waE2E.Message {
	return &waE2E.Message{SecretEncryptedMessage: &waE2E.SecretEncryptedMessage{
		TargetMessageKey: &waCommon.MessageKey{ID: proto.String(target), FromMe: proto.Bool(false), RemoteJID: proto.String(peerPN.String())},
		EncPayload:       []byte("sealed"), EncIV: []byte("iv"), SecretEncType: typ.Enum(),
	}}
}

// secrets plays whatsmeow's decryption of secret-encrypted messages:
// their content by id; an error for any other.
func secrets(contents map[types.MessageID]*waE2E.Message) func(*events.Message) (*waE2E.Message, error) {
	return func(evt *events.Message) (*waE2E.Message, error) {
		if m, ok := contents[evt.Info.ID]; ok {
			return m, nil
		}
		return nil, whatsmeow.ErrOriginalMessageSecretNotFound
	}
}

func TestMapMessageActions(t *testing.T) {
	env := messageEnv{
		secret: secrets(map[types.MessageID]*waE2E.Message{
			"S1": {Conversation: proto.String("secret fix")},
			"S2": builder.BuildEdit(peerPN, "3EB0T", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("enveloped")}}),
			"S4": {Conversation: proto.String("not an edit of a text")},
		}),
		vote: pollVotes(map[types.MessageID][]string{"V1": {"Sushi", "Pizza"}, "V2": {}, "V3": {"Pasta"}, "V5": {"Sushi"}}),
		pollOptions: func(id string) []string {
			if id == "3EB0POLL" {
				return []string{"Pizza", "Sushi"}
			}
			return nil
		},
	}
	for _, tt := range actionTests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := mapMessage("num_1", tt.evt, env)
			if tt.want == nil {
				if ok {
					t.Fatalf("want dropped, got %+v", got)
				}
				return
			}
			if !ok || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

var chosenTests = []struct {
	name     string
	selected [][]byte
	options  []string
	want     []string
}{
	{"one", whatsmeow.HashPollOptions([]string{"b"}), []string{"a", "b", "c"}, []string{"b"}},
	{"several, in the poll's order", whatsmeow.HashPollOptions([]string{"c", "a"}), []string{"a", "b", "c"}, []string{"a", "c"}},
	{"none: withdrawn", nil, []string{"a", "b"}, []string{}},
	{"an option the poll lacks", whatsmeow.HashPollOptions([]string{"a", "z"}), []string{"a", "b"}, nil},
	{"a hash of another length", [][]byte{[]byte("short")}, []string{"a", "b"}, nil},
	{"names differ by case", whatsmeow.HashPollOptions([]string{"A"}), []string{"a", "b"}, nil},
}

func TestChosenOptions(t *testing.T) {
	for _, tt := range chosenTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chosenOptions(tt.selected, tt.options); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestMapUndecryptable(t *testing.T) {
	undecryptable := func(src types.MessageSource, typ events.UnavailableType) *events.UndecryptableMessage {
		return &events.UndecryptableMessage{Info: types.MessageInfo{MessageSource: src, ID: "3EB0U", PushName: "Ann", Timestamp: testTime},
			UnavailableType: typ, DecryptFailMode: events.DecryptFailShow}
	}
	got, ok := mapUndecryptable("num_1", undecryptable(types.MessageSource{Chat: peerLID, Sender: peerLID, SenderAlt: peerPN}, events.UnavailableTypeUnknown), nil)
	want := &Inbound{NumberID: "num_1", WAMessageID: "3EB0U", From: "+14155552671", FromLID: peerLID.User, PushName: "Ann", Kind: apiws.KindOther, At: testTime,
		Error: &apiws.MessageError{Code: "UNDECRYPTABLE", Message: "the message could not be decrypted; it can be read on the phone"}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if c := got.Content(); c.Text != nil || c.Media != nil {
		t.Errorf("content of an undecryptable message %+v", c)
	}
	if got, ok := mapUndecryptable("num_1", undecryptable(direct, events.UnavailableTypeViewOnce), nil); !ok || got.Error.Code != apiws.MsgErrUndecryptable ||
		got.Error.Retryable || !strings.Contains(got.Error.Message, "view-once") {
		t.Errorf("view once: %+v", got)
	}
	for name, src := range map[string]types.MessageSource{
		"group":   {Chat: types.NewJID("1203630", types.GroupServer), Sender: peerPN, IsGroup: true},
		"status":  {Chat: types.StatusBroadcastJID, Sender: peerPN},
		"from me": fromPhone,
	} {
		if got, ok := mapUndecryptable("num_1", undecryptable(src, ""), nil); ok {
			t.Errorf("%s: recorded %+v", name, got)
		}
	}
}

// mediaMessage is an attachment of kind as WhatsApp delivers it: with the
// download fields, and a caption, thumbnail and context that are what a
// person wrote or sees.
func mediaMessage(kind apiws.MessageKind) *waE2E.Message {
	ci := &waE2E.ContextInfo{StanzaID: proto.String("3EB0Q"), QuotedMessage: &waE2E.Message{Conversation: proto.String("quoted words")}}
	url, path, key, enc, sha, size := proto.String("https://mmg.whatsapp.net/d/f/x.enc"), proto.String("/v/t62/x"), []byte("media key 32 bytes..............."),
		[]byte("enc sha"), []byte("sha"), proto.Uint64(2048)
	thumb, caption := []byte("jpeg thumbnail"), proto.String("private caption")
	switch kind {
	case apiws.KindImage:
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{URL: url, DirectPath: path, MediaKey: key, FileEncSHA256: enc, FileSHA256: sha, FileLength: size,
			Mimetype: proto.String("image/jpeg"), Caption: caption, JPEGThumbnail: thumb, ContextInfo: ci, Width: proto.Uint32(640)}}
	case apiws.KindVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{URL: url, DirectPath: path, MediaKey: key, FileEncSHA256: enc, FileSHA256: sha, FileLength: size,
			Mimetype: proto.String("video/mp4"), Caption: caption, JPEGThumbnail: thumb, ContextInfo: ci, Seconds: proto.Uint32(3)}}
	case apiws.KindAudio:
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{URL: url, DirectPath: path, MediaKey: key, FileEncSHA256: enc, FileSHA256: sha, FileLength: size,
			Mimetype: proto.String("audio/ogg; codecs=opus"), PTT: proto.Bool(true), Waveform: thumb, ContextInfo: ci}}
	case apiws.KindDocument:
		return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{URL: url, DirectPath: path, MediaKey: key, FileEncSHA256: enc, FileSHA256: sha, FileLength: size,
			Mimetype: proto.String("application/pdf"), Caption: caption, FileName: proto.String("private name.pdf"), JPEGThumbnail: thumb, ContextInfo: ci}}
	default:
		return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{URL: url, DirectPath: path, MediaKey: key, FileEncSHA256: enc, FileSHA256: sha, FileLength: size,
			Mimetype: proto.String("image/webp"), PngThumbnail: thumb, ContextInfo: ci}}
	}
}

func TestMediaRef(t *testing.T) {
	for _, kind := range []apiws.MessageKind{apiws.KindImage, apiws.KindVideo, apiws.KindAudio, apiws.KindDocument, apiws.KindSticker} {
		t.Run(string(kind), func(t *testing.T) {
			msg := mediaMessage(kind)
			ev, ok := mapMessage("num_1", incoming(direct, msg), messageEnv{})
			in, _ := ev.(*Inbound)
			if !ok || in == nil || in.Media == nil || in.Kind != kind {
				t.Fatalf("mapped to %+v", ev)
			}
			ref := in.Media.Ref
			for _, private := range []string{"private", "quoted words", "jpeg thumbnail", "3EB0Q"} {
				if bytes.Contains(ref, []byte(private)) {
					t.Errorf("the reference carries %q", private)
				}
			}
			var got waE2E.Message
			if err := proto.Unmarshal(ref, &got); err != nil {
				t.Fatal(err)
			}
			// What whatsmeow's Download reads, and the type and length.
			part, ok := downloadable(&got)
			if !ok {
				t.Fatalf("reference %v has no attachment", &got)
			}
			if part.GetDirectPath() != "/v/t62/x" || string(part.GetMediaKey()) != "media key 32 bytes..............." ||
				string(part.GetFileEncSHA256()) != "enc sha" || string(part.GetFileSHA256()) != "sha" {
				t.Errorf("download fields %v", part)
			}
			if whatsmeow.GetMediaType(part) != mediaTypes[kind] {
				t.Errorf("media type %q, want %q", whatsmeow.GetMediaType(part), mediaTypes[kind])
			}
		})
	}
	if ref := mediaRef(&waE2E.Message{Conversation: proto.String("hi")}); ref != nil {
		t.Errorf("a text's reference: %q", ref)
	}
}

// downloadable is the attachment of m as whatsmeow's Download takes it.
func downloadable(m *waE2E.Message) (whatsmeow.DownloadableMessage, bool) {
	for _, p := range []whatsmeow.DownloadableMessage{m.GetImageMessage(), m.GetVideoMessage(), m.GetAudioMessage(), m.GetDocumentMessage(), m.GetStickerMessage()} {
		if !reflect.ValueOf(p).IsNil() {
			return p, true
		}
	}
	return nil, false
}
