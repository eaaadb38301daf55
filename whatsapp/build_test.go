package whatsapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apiws/apiws"
	"github.com/emersion/go-vcard"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// fakeUpload answers like WhatsApp's media server, recording the media type.
func fakeUpload(got *whatsmeow.MediaType) uploadFunc {
	return func(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
		*got = mt
		return whatsmeow.UploadResponse{
			URL: "https://mmg.whatsapp.net/x", DirectPath: "/v/x", MediaKey: []byte("key"),
			FileEncSHA256: []byte("enc"), FileSHA256: []byte("sha"), FileLength: uint64(len(data)),
		}, nil
	}
}

func TestBuildMessage(t *testing.T) {
	ctx := context.Background()
	media := &Media{Data: []byte("12345"), MimeType: "image/png", FileName: "p.png", Caption: "look"}

	t.Run("text is a conversation", func(t *testing.T) {
		m, err := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindText, Text: "hi"}, types.EmptyJID, nil, nil)
		if err != nil || m.GetConversation() != "hi" {
			t.Fatalf("got %v, %v", m, err)
		}
	})
	t.Run("image carries the upload", func(t *testing.T) {
		var mt whatsmeow.MediaType
		m, err := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindImage, Media: media}, types.EmptyJID, fakeUpload(&mt), nil)
		img := m.GetImageMessage()
		if err != nil || mt != whatsmeow.MediaImage || img == nil {
			t.Fatalf("got %v, %v (media type %q)", m, err, mt)
		}
		if img.GetURL() != "https://mmg.whatsapp.net/x" || img.GetDirectPath() != "/v/x" || string(img.GetMediaKey()) != "key" ||
			string(img.GetFileEncSHA256()) != "enc" || string(img.GetFileSHA256()) != "sha" || img.GetFileLength() != 5 ||
			img.GetMimetype() != "image/png" || img.GetCaption() != "look" {
			t.Errorf("image message %v", img)
		}
	})
	t.Run("document has its file name", func(t *testing.T) {
		var mt whatsmeow.MediaType
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindDocument, Media: media}, types.EmptyJID, fakeUpload(&mt), nil)
		d := m.GetDocumentMessage()
		if mt != whatsmeow.MediaDocument || d.GetFileName() != "p.png" || d.GetCaption() != "look" || d.GetFileLength() != 5 {
			t.Errorf("document message %v", d)
		}
	})
	t.Run("ogg audio is a voice note", func(t *testing.T) {
		var mt whatsmeow.MediaType
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindAudio, Media: &Media{Data: []byte("a"), MimeType: "audio/ogg; codecs=opus"}}, types.EmptyJID, fakeUpload(&mt), nil)
		if a := m.GetAudioMessage(); mt != whatsmeow.MediaAudio || !a.GetPTT() || a.GetMimetype() != "audio/ogg; codecs=opus" {
			t.Errorf("audio message %v", a)
		}
	})
	t.Run("video has no caption when none given", func(t *testing.T) {
		var mt whatsmeow.MediaType
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindVideo, Media: &Media{Data: []byte("v"), MimeType: "video/mp4"}}, types.EmptyJID, fakeUpload(&mt), nil)
		if v := m.GetVideoMessage(); mt != whatsmeow.MediaVideo || v.Caption != nil {
			t.Errorf("video message %v", v)
		}
	})
	t.Run("image goes with its size and a jpeg thumbnail", func(t *testing.T) {
		var mt whatsmeow.MediaType
		photo := readTestdata(t, "photo.webp")
		m, err := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindImage, Media: &Media{Data: photo, MimeType: "image/webp"}}, types.EmptyJID, fakeUpload(&mt), nil)
		img := m.GetImageMessage()
		if err != nil || img.GetWidth() != 320 || img.GetHeight() != 240 || !bytes.HasPrefix(img.GetJPEGThumbnail(), []byte{0xFF, 0xD8}) {
			t.Fatalf("image message %v, %v", img, err)
		}
		if got := probeImage(photo).thumbnail; !bytes.Equal(img.GetJPEGThumbnail(), got) {
			t.Error("the thumbnail is not the image's")
		}
		// An image apiws cannot read goes as it is, without them.
		m, _ = buildMessage(ctx, OutgoingMessage{Kind: apiws.KindImage, Media: media}, types.EmptyJID, fakeUpload(&mt), nil)
		if img := m.GetImageMessage(); img.Width != nil || img.Height != nil || img.JPEGThumbnail != nil {
			t.Errorf("unreadable image sent as %v", img)
		}
	})
	t.Run("audio and video go with their length", func(t *testing.T) {
		var mt whatsmeow.MediaType
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindAudio, Media: &Media{Data: readTestdata(t, "voice.ogg"), MimeType: "audio/ogg; codecs=opus"}}, types.EmptyJID, fakeUpload(&mt), nil)
		if a := m.GetAudioMessage(); a.GetSeconds() != 3 || !a.GetPTT() {
			t.Errorf("voice note %v", a)
		}
		m, _ = buildMessage(ctx, OutgoingMessage{Kind: apiws.KindAudio, Media: &Media{Data: readTestdata(t, "song.mp3"), MimeType: "audio/mpeg"}}, types.EmptyJID, fakeUpload(&mt), nil)
		if a := m.GetAudioMessage(); a.GetSeconds() != 4 || a.GetPTT() {
			t.Errorf("mp3 %v", a)
		}
		m, _ = buildMessage(ctx, OutgoingMessage{Kind: apiws.KindVideo, Media: &Media{Data: readTestdata(t, "clip.mp4"), MimeType: "video/mp4"}}, types.EmptyJID, fakeUpload(&mt), nil)
		if v := m.GetVideoMessage(); v.GetSeconds() != 2 {
			t.Errorf("video %v", v)
		}
		m, _ = buildMessage(ctx, OutgoingMessage{Kind: apiws.KindAudio, Media: &Media{Data: []byte("a"), MimeType: "audio/aac"}}, types.EmptyJID, fakeUpload(&mt), nil)
		if a := m.GetAudioMessage(); a.Seconds != nil {
			t.Errorf("audio of unknown length %v", a)
		}
	})
	t.Run("upload failure is returned", func(t *testing.T) {
		fail := func(context.Context, []byte, whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
			return whatsmeow.UploadResponse{}, whatsmeow.ErrNotConnected
		}
		_, err := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindImage, Media: media}, types.EmptyJID, fail, nil)
		if !errors.Is(err, whatsmeow.ErrNotConnected) {
			t.Errorf("got %v", err)
		}
	})
}

var sendErrorTests = []struct {
	name      string
	err       error
	code      string
	retryable bool
}{
	{"not connected", whatsmeow.ErrNotConnected, CodeNotConnected, true},
	{"disconnected mid-request", fmt.Errorf("send: %w", &whatsmeow.DisconnectedError{Action: "message send"}), CodeNotConnected, true},
	{"message timed out", whatsmeow.ErrMessageTimedOut, CodeTimeout, true},
	{"deadline", context.DeadlineExceeded, CodeTimeout, true},
	{"rate limited by server", fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 429), CodeRateLimited, true},
	{"server 500", fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 500), CodeSendFailed, true},
	{"server refusal", fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 479), CodeSendFailed, false},
	{"iq rate over limit", whatsmeow.ErrIQRateOverLimit, CodeRateLimited, true},
	{"iq not found", whatsmeow.ErrIQNotFound, CodeNotOnWhatsApp, false},
	{"bad recipient", whatsmeow.ErrRecipientADJID, CodeSendFailed, false},
	{"send error passes through", sendErr(CodeMediaInvalid, "bad", false, nil), CodeMediaInvalid, false},
	{"unknown is retryable", errors.New("boom"), CodeSendFailed, true},
}

func TestMapSendError(t *testing.T) {
	for _, tt := range sendErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			se := mapSendError(tt.err)
			if se.Code != tt.code || se.Retryable != tt.retryable {
				t.Fatalf("got %s retryable=%v, want %s retryable=%v", se.Code, se.Retryable, tt.code, tt.retryable)
			}
			if me := se.MessageError(); me.Code != se.Code || me.Retryable != se.Retryable {
				t.Errorf("MessageError %+v", me)
			}
		})
	}
}

func TestBuildMessageKinds(t *testing.T) {
	ctx := context.Background()
	poll := new(whatsmeow.Client).BuildPollCreation
	name, addr := "Ferry Building", "1 Ferry Building, San Francisco"

	t.Run("location is a location message", func(t *testing.T) {
		m, err := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindLocation,
			Location: &apiws.Location{Latitude: 37.7955, Longitude: -122.3937, Name: &name, Address: &addr}}, types.EmptyJID, nil, poll)
		l := m.GetLocationMessage()
		if err != nil || l.GetDegreesLatitude() != 37.7955 || l.GetDegreesLongitude() != -122.3937 || l.GetName() != name || l.GetAddress() != addr {
			t.Fatalf("got %v, %v", m, err)
		}
	})
	t.Run("location without a name leaves it unset", func(t *testing.T) {
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindLocation, Location: &apiws.Location{Latitude: -90, Longitude: 180}}, types.EmptyJID, nil, poll)
		if l := m.GetLocationMessage(); l.Name != nil || l.Address != nil || l.GetDegreesLatitude() != -90 {
			t.Fatalf("got %v", l)
		}
	})
	ada := apiws.ContactCard{Name: "Ada", Phones: []string{"+14155550123"}, VCard: VCard("Ada", []string{"+14155550123"})}
	bob := apiws.ContactCard{Name: "Bob", Phones: []string{"+442071838750", "+14155550199"}}
	t.Run("one card is a contact message", func(t *testing.T) {
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindContact, Contacts: []apiws.ContactCard{ada}}, types.EmptyJID, nil, poll)
		c := m.GetContactMessage()
		if c.GetDisplayName() != "Ada" || c.GetVcard() != ada.VCard || m.GetContactsArrayMessage() != nil {
			t.Fatalf("got %v", m)
		}
	})
	t.Run("several cards are a contacts array", func(t *testing.T) {
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindContact, Contacts: []apiws.ContactCard{ada, bob}}, types.EmptyJID, nil, poll)
		arr := m.GetContactsArrayMessage()
		if arr.GetDisplayName() != "2 contacts" || len(arr.GetContacts()) != 2 || m.GetContactMessage() != nil {
			t.Fatalf("got %v", m)
		}
		if got := arr.GetContacts()[1]; got.GetDisplayName() != "Bob" || got.GetVcard() != VCard("Bob", bob.Phones) {
			t.Errorf("second card %v", got)
		}
	})
	t.Run("poll is whatsmeow's poll creation with a secret", func(t *testing.T) {
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindPoll,
			Poll: &apiws.Poll{Question: "Lunch?", Options: []string{"Pizza", "Sushi", "Salad"}, SelectableCount: 2}}, types.EmptyJID, nil, poll)
		p := m.GetPollCreationMessage()
		if p.GetName() != "Lunch?" || p.GetSelectableOptionsCount() != 2 || len(p.GetOptions()) != 3 || p.GetOptions()[1].GetOptionName() != "Sushi" {
			t.Fatalf("got %v", m)
		}
		if len(m.GetMessageContextInfo().GetMessageSecret()) != 32 {
			t.Errorf("poll without its 32-byte secret: %v", m.GetMessageContextInfo())
		}
	})
	t.Run("sticker is uploaded as an image", func(t *testing.T) {
		var mt whatsmeow.MediaType
		m, err := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindSticker, Media: &Media{Data: []byte("RIFFwebp"), MimeType: "image/webp"}}, types.EmptyJID, fakeUpload(&mt), poll)
		s := m.GetStickerMessage()
		if err != nil || mt != whatsmeow.MediaImage || s.GetMimetype() != "image/webp" || s.GetFileLength() != 8 || s.GetDirectPath() != "/v/x" {
			t.Fatalf("got %v, %v (media type %q)", m, err, mt)
		}
	})
}

func TestCheckOutgoingKinds(t *testing.T) {
	for _, msg := range []OutgoingMessage{
		{ID: "A", To: "+14155550123", Kind: apiws.KindLocation},
		{ID: "A", To: "+14155550123", Kind: apiws.KindContact},
		{ID: "A", To: "+14155550123", Kind: apiws.KindPoll, Poll: &apiws.Poll{Question: "?", Options: []string{"one"}}},
		{ID: "A", To: "+14155550123", Kind: apiws.KindSticker},
	} {
		if _, err := checkOutgoing(msg); err == nil || err.Retryable {
			t.Errorf("%s without its content: %v", msg.Kind, err)
		}
	}
}

func TestVCard(t *testing.T) {
	text := VCard("Ada Lovelace", []string{"+14155550123", "+442071838750"})
	card, err := vcard.NewDecoder(strings.NewReader(text)).Decode()
	if err != nil {
		t.Fatalf("%q does not decode: %v", text, err)
	}
	if v := card.Value(vcard.FieldVersion); v != "3.0" {
		t.Errorf("version %q", v)
	}
	if fn := card.PreferredValue(vcard.FieldFormattedName); fn != "Ada Lovelace" {
		t.Errorf("FN %q", fn)
	}
	if n := card.Name(); n == nil || n.GivenName != "Ada Lovelace" {
		t.Errorf("N %+v", n)
	}
	tels := card[vcard.FieldTelephone]
	if len(tels) != 2 || tels[0].Value != "+14155550123" || tels[0].Params.Get("WAID") != "14155550123" ||
		!tels[0].Params.HasType(vcard.TypeCell) || tels[1].Params.Get("WAID") != "442071838750" {
		t.Errorf("TEL fields %+v in\n%s", tels, text)
	}
	if !strings.HasPrefix(text, "BEGIN:VCARD\r\nVERSION:3.0\r\n") || !strings.HasSuffix(text, "END:VCARD\r\n") {
		t.Errorf("vCard text:\n%s", text)
	}
}

func TestBuildReplyAndMentions(t *testing.T) {
	ctx := context.Background()
	own := types.NewADJID("15550100042", 0, 7) // the sending device
	poll := new(whatsmeow.Client).BuildPollCreation
	build := func(msg OutgoingMessage) *waE2E.Message {
		t.Helper()
		var mt whatsmeow.MediaType
		m, err := buildMessage(ctx, msg, own, fakeUpload(&mt), poll)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	t.Run("a text reply is an extended text quoting the message", func(t *testing.T) {
		m := build(OutgoingMessage{Kind: apiws.KindText, Text: "yes, @14155550199 will",
			ReplyTo: &Quote{ID: "3EB0QUOTED", Sender: "+14155550123"}, Mentions: []string{"+14155550199"}})
		if m.Conversation != nil {
			t.Fatalf("a reply sent as a plain conversation: %v", m)
		}
		ext := m.GetExtendedTextMessage()
		ci := ext.GetContextInfo()
		if ext.GetText() != "yes, @14155550199 will" || ci.GetStanzaID() != "3EB0QUOTED" || ci.GetParticipant() != "14155550123@s.whatsapp.net" {
			t.Fatalf("got %v", m)
		}
		if ci.GetQuotedMessage() == nil || ci.GetQuotedMessage().Conversation == nil {
			t.Errorf("no quoted message: %v", ci)
		}
		if !slices.Equal(ci.GetMentionedJID(), []string{"14155550199@s.whatsapp.net"}) {
			t.Errorf("mentions %v", ci.GetMentionedJID())
		}
	})
	t.Run("quoting our own message names this number, without its device", func(t *testing.T) {
		m := build(OutgoingMessage{Kind: apiws.KindText, Text: "as I said", ReplyTo: &Quote{ID: "3EB0MINE", FromMe: true}})
		if p := m.GetExtendedTextMessage().GetContextInfo().GetParticipant(); p != "15550100042@s.whatsapp.net" {
			t.Errorf("participant %q", p)
		}
	})
	t.Run("quoting a hidden sender names its LID", func(t *testing.T) {
		m := build(OutgoingMessage{Kind: apiws.KindText, Text: "hi", ReplyTo: &Quote{ID: "3EB0HIDDEN", SenderLID: "100015550100006"}})
		if p := m.GetExtendedTextMessage().GetContextInfo().GetParticipant(); p != "100015550100006@lid" {
			t.Errorf("participant %q", p)
		}
	})
	t.Run("mentions alone make an extended text without a quote", func(t *testing.T) {
		m := build(OutgoingMessage{Kind: apiws.KindText, Text: "@14155550199", Mentions: []string{"+14155550199"}})
		ci := m.GetExtendedTextMessage().GetContextInfo()
		if ci.StanzaID != nil || ci.QuotedMessage != nil || len(ci.GetMentionedJID()) != 1 {
			t.Errorf("context %v", ci)
		}
	})
	t.Run("a plain text stays a conversation", func(t *testing.T) {
		if m := build(OutgoingMessage{Kind: apiws.KindText, Text: "hi"}); m.GetConversation() != "hi" || m.ExtendedTextMessage != nil {
			t.Errorf("got %v", m)
		}
	})
	quote := &Quote{ID: "3EB0Q", Sender: "+14155550123"}
	contexts := map[string]func(*waE2E.Message) *waE2E.ContextInfo{
		"image":    func(m *waE2E.Message) *waE2E.ContextInfo { return m.GetImageMessage().GetContextInfo() },
		"location": func(m *waE2E.Message) *waE2E.ContextInfo { return m.GetLocationMessage().GetContextInfo() },
		"contact":  func(m *waE2E.Message) *waE2E.ContextInfo { return m.GetContactMessage().GetContextInfo() },
		"contacts": func(m *waE2E.Message) *waE2E.ContextInfo { return m.GetContactsArrayMessage().GetContextInfo() },
		"poll":     func(m *waE2E.Message) *waE2E.ContextInfo { return m.GetPollCreationMessage().GetContextInfo() },
		"sticker":  func(m *waE2E.Message) *waE2E.ContextInfo { return m.GetStickerMessage().GetContextInfo() },
	}
	card := apiws.ContactCard{Name: "Ada", Phones: []string{"+14155550199"}}
	msgs := map[string]OutgoingMessage{
		"image":    {Kind: apiws.KindImage, Media: &Media{Data: []byte("p"), MimeType: "image/png", Caption: "@14155550199"}},
		"location": {Kind: apiws.KindLocation, Location: &apiws.Location{Latitude: 1, Longitude: 2}},
		"contact":  {Kind: apiws.KindContact, Contacts: []apiws.ContactCard{card}},
		"contacts": {Kind: apiws.KindContact, Contacts: []apiws.ContactCard{card, card}},
		"poll":     {Kind: apiws.KindPoll, Poll: &apiws.Poll{Question: "?", Options: []string{"a", "b"}, SelectableCount: 1}},
		"sticker":  {Kind: apiws.KindSticker, Media: &Media{Data: []byte("w"), MimeType: "image/webp"}},
	}
	for name, msg := range msgs {
		t.Run(name+" carries the quote on itself", func(t *testing.T) {
			msg.ReplyTo = quote
			if ci := contexts[name](build(msg)); ci.GetStanzaID() != "3EB0Q" || ci.GetParticipant() != "14155550123@s.whatsapp.net" {
				t.Errorf("context %v", ci)
			}
		})
	}
}
