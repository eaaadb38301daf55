package whatsapp

import (
	"reflect"
	"testing"
	"time"

	"github.com/apiws/apiws"
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
	{"reaction", incoming(direct, &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍"), Key: &waCommon.MessageKey{ID: proto.String("3EB0OUT")}}}),
		&Inbound{From: "+14155552671", Kind: apiws.KindReaction, Text: "👍"}},
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
	{"group message is dropped", incoming(types.MessageSource{Chat: types.NewJID("1203630", types.GroupServer), Sender: peerPN, IsGroup: true}, &waE2E.Message{Conversation: proto.String("x")}), nil},
	{"status broadcast is dropped", incoming(types.MessageSource{Chat: types.StatusBroadcastJID, Sender: peerPN}, &waE2E.Message{Conversation: proto.String("x")}), nil},
	{"protocol message is dropped", incoming(direct, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}}), nil},
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
			got, ok := mapMessage("num_1", tt.evt, phoneOf)
			if tt.want == nil {
				if ok {
					t.Fatalf("want dropped, got %+v", got)
				}
				return
			}
			want := *tt.want
			want.NumberID, want.WAMessageID, want.PushName, want.At = "num_1", "3EB0IN", "Ann", testTime
			if !ok || !reflect.DeepEqual(*got, want) {
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
