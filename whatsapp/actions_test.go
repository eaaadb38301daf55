package whatsapp

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// ownDevice is a client of the paired device, for whatsmeow's builders to
// know which messages are the number's own.
func ownDevice() *whatsmeow.Client {
	jid := pairedJID
	return &whatsmeow.Client{Store: &store.Device{ID: &jid}}
}

var reactionTests = []struct {
	name   string
	msg    OutgoingMessage
	chat   types.JID
	fromMe bool
}{
	{"to the number's own message", OutgoingMessage{Text: "👍", ReplyTo: &Quote{ID: "3EB0MINE", FromMe: true}}, peerPN, true},
	{"to the peer's message", OutgoingMessage{Text: "❤️", ReplyTo: &Quote{ID: "3EB0THEIRS", Sender: "+14155552671"}}, peerPN, false},
	{"to a hidden sender's message", OutgoingMessage{Text: "🙏", ReplyTo: &Quote{ID: "3EB0HIDDEN", SenderLID: peerLID.User}}, peerLID, false},
	{"to a message whose sender is not named", OutgoingMessage{Text: "🎉", ReplyTo: &Quote{ID: "3EB0ANON"}}, peerPN, false},
	{"removed", OutgoingMessage{Text: "", ReplyTo: &Quote{ID: "3EB0MINE", FromMe: true}}, peerPN, true},
}

// TestReactionMessage: a reaction is whatsmeow's BuildReaction, keyed by
// the message reacted to in the chat, FromMe for the number's own.
func TestReactionMessage(t *testing.T) {
	for _, tt := range reactionTests {
		t.Run(tt.name, func(t *testing.T) {
			tt.msg.Kind = apiws.KindReaction
			m := reactionMessage(tt.msg, tt.chat, pairedJID, ownDevice().BuildReaction)
			r := m.GetReactionMessage()
			if r == nil || r.Text == nil || r.GetText() != tt.msg.Text || r.GetSenderTimestampMS() == 0 {
				t.Fatalf("built %v", m)
			}
			key := r.GetKey()
			want := &waCommon.MessageKey{ID: proto.String(tt.msg.ReplyTo.ID), RemoteJID: proto.String(tt.chat.String()), FromMe: proto.Bool(tt.fromMe)}
			if !proto.Equal(key, want) {
				t.Errorf("key %v, want %v", key, want)
			}
			// Nothing else: a reaction is no text or reply.
			if m.Conversation != nil || m.ExtendedTextMessage != nil || r.GetGroupingKey() != "" {
				t.Errorf("built %v", m)
			}
		})
	}
	if _, err := checkOutgoing(OutgoingMessage{ID: "3EB0R", To: "+14155552671", Kind: apiws.KindReaction, Text: "👍"}); err == nil || err.Retryable {
		t.Errorf("a reaction to nothing: %v", err)
	}
	if _, err := checkOutgoing(OutgoingMessage{ID: "3EB0R", To: "+14155552671", Kind: apiws.KindReaction, ReplyTo: &Quote{ID: "3EB0X"}}); err != nil {
		t.Errorf("a removal: %v", err)
	}
}

func TestWhatsmeowReactEditRevoke(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	fc.onWA["+14155552671"] = true

	react := OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindReaction, Text: "👍", ReplyTo: &Quote{ID: "3EB0MINE", FromMe: true}}
	res, err := h.w.Send(ctx, n, react)
	if err != nil || res.WAMessageID != react.ID || len(res.Content) == 0 {
		t.Fatalf("Send reaction = %+v, %v", res, err)
	}
	sent := fc.sent[len(fc.sent)-1]
	if r := sent.msg.GetReactionMessage(); sent.to != peerPN || r.GetText() != "👍" || r.GetKey().GetID() != "3EB0MINE" ||
		!r.GetKey().GetFromMe() || r.GetKey().GetRemoteJID() != peerPN.String() {
		t.Errorf("reaction sent to %v as %v", sent.to, sent.msg)
	}
	hidden := OutgoingMessage{ID: NewMessageID(), ToLID: peerLID.User, Kind: apiws.KindReaction, ReplyTo: &Quote{ID: "3EB0IN", SenderLID: peerLID.User}}
	if _, err := h.w.Send(ctx, n, hidden); err != nil {
		t.Fatal(err)
	}
	sent = fc.sent[len(fc.sent)-1]
	if r := sent.msg.GetReactionMessage(); sent.to != peerLID || r.Text == nil || r.GetText() != "" || r.GetKey().GetFromMe() ||
		r.GetKey().GetRemoteJID() != peerLID.String() {
		t.Errorf("removal sent to %v as %v", sent.to, sent.msg)
	}

	at, err := h.w.Edit(ctx, n, MessageRef{ID: "3EB0MINE", Chat: "+14155552671"}, "fixed")
	if err != nil || !at.Equal(testTime) {
		t.Fatalf("Edit = %v, %v", at, err)
	}
	sent = fc.sent[len(fc.sent)-1]
	edit := sent.msg.GetEditedMessage().GetMessage().GetProtocolMessage()
	if sent.to != peerPN || edit.GetType() != waE2E.ProtocolMessage_MESSAGE_EDIT || edit.GetKey().GetID() != "3EB0MINE" ||
		!edit.GetKey().GetFromMe() || edit.GetEditedMessage().GetConversation() != "fixed" {
		t.Errorf("edit sent to %v as %v", sent.to, sent.msg)
	}
	// What the peer's side of whatsmeow makes of it: an Edited.
	if ev, ok := mapMessage("num_1", delivered(types.MessageSource{Chat: ownPN, Sender: ownPN}, "E1", sent.msg), messageEnv{}); !ok ||
		ev.(*Edited).TargetID != "3EB0MINE" || ev.(*Edited).Text != "fixed" {
		t.Errorf("the edit reads as %+v", ev)
	}

	if _, err := h.w.Revoke(ctx, n, MessageRef{ID: "3EB0OLD", ChatLID: peerLID.User}); err != nil {
		t.Fatal(err)
	}
	sent = fc.sent[len(fc.sent)-1]
	if rv := sent.msg.GetProtocolMessage(); sent.to != peerLID || rv.GetType() != waE2E.ProtocolMessage_REVOKE ||
		rv.GetKey().GetID() != "3EB0OLD" || !rv.GetKey().GetFromMe() || rv.GetKey().GetRemoteJID() != peerLID.String() {
		t.Errorf("revoke sent to %v as %v", sent.to, sent.msg)
	}

	var se *SendError
	if _, err := h.w.Edit(ctx, n, MessageRef{ID: "3EB0X"}, "x"); !errors.As(err, &se) || se.Code != CodeSendFailed || se.Retryable {
		t.Errorf("edit in no chat: %v", err)
	}
	fc.sendErr = whatsmeow.ErrMessageTimedOut
	if _, err := h.w.Revoke(ctx, n, MessageRef{ID: "3EB0X", Chat: "+14155552671"}); !errors.As(err, &se) || se.Code != CodeTimeout || !se.Retryable {
		t.Errorf("timed out revoke: %v", err)
	}
	fc.sendErr = nil
	if err := h.w.Disconnect(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := h.w.Edit(ctx, n, MessageRef{ID: "3EB0X", Chat: "+14155552671"}, "x"); !errors.As(err, &se) || se.Code != CodeNotConnected || !se.Retryable {
		t.Errorf("edit while disconnected: %v", err)
	}
}

// TestWhatsmeowDownload: an inbound file's reference leads Download to the
// file at WhatsApp, and carries nothing a person wrote.
func TestWhatsmeowDownload(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	img := mediaMessage(apiws.KindImage)
	fc.files["/v/t62/x"] = []byte("the decrypted jpeg")
	fc.emit(&events.Message{Info: types.MessageInfo{MessageSource: direct, ID: "3EB0IMG", Timestamp: testTime}, Message: img})
	evs := h.rec.all()
	in, ok := evs[len(evs)-1].(*Inbound)
	if !ok || in.Media == nil || in.Media.Caption != "private caption" || len(in.Media.Ref) == 0 {
		t.Fatalf("inbound image %+v", evs[len(evs)-1])
	}
	data, err := h.w.Download(ctx, n, in.Media.Ref)
	if err != nil || string(data) != "the decrypted jpeg" {
		t.Fatalf("Download = %q, %v", data, err)
	}
	asked := fc.downloads[0].GetImageMessage()
	if asked.GetDirectPath() != "/v/t62/x" || !reflect.DeepEqual(asked.GetMediaKey(), img.GetImageMessage().GetMediaKey()) ||
		asked.Caption != nil || asked.JPEGThumbnail != nil || asked.ContextInfo != nil {
		t.Errorf("WhatsApp was asked for %v", asked)
	}

	delete(fc.files, "/v/t62/x")
	if _, err := h.w.Download(ctx, n, in.Media.Ref); !errors.Is(err, ErrMediaGone) {
		t.Errorf("a file WhatsApp no longer has: %v", err)
	}
	for name, ref := range map[string][]byte{
		"not a message":     []byte("\xff\xff garbage"),
		"not an attachment": mustMarshal(t, &waE2E.Message{Conversation: proto.String("hi")}),
		"empty":             nil,
	} {
		if _, err := h.w.Download(ctx, n, ref); !errors.Is(err, ErrMediaGone) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(fc.downloads) != 2 {
		t.Errorf("%d downloads asked of WhatsApp, want 2 (bad references ask nothing)", len(fc.downloads))
	}
	if err := h.w.Disconnect(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := h.w.Download(ctx, n, in.Media.Ref); !errors.Is(err, ErrNotConnected) {
		t.Errorf("download while disconnected: %v", err)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var downloadErrorTests = []struct {
	err  error
	want error // nil: neither sentinel
}{
	{whatsmeow.ErrMediaDownloadFailedWith404, ErrMediaGone},
	{whatsmeow.ErrMediaDownloadFailedWith410, ErrMediaGone},
	{whatsmeow.ErrMediaDownloadFailedWith403, ErrMediaGone},
	{whatsmeow.ErrInvalidMediaSHA256, ErrMediaGone},
	{whatsmeow.ErrInvalidMediaHMAC, ErrMediaGone},
	{whatsmeow.ErrNoURLPresent, ErrMediaGone},
	{whatsmeow.ErrNothingDownloadableFound, ErrMediaGone},
	{errors.Join(errors.New("failed to refresh media connections"), whatsmeow.ErrNotConnected), ErrNotConnected},
	{whatsmeow.DownloadHTTPError{Response: &http.Response{StatusCode: http.StatusServiceUnavailable}}, nil},
	{errors.New("failed to download media from last host: connection reset"), nil},
	{context.DeadlineExceeded, nil},
}

func TestDownloadError(t *testing.T) {
	for _, tt := range downloadErrorTests {
		got := downloadError(tt.err)
		if tt.want != nil && !errors.Is(got, tt.want) {
			t.Errorf("%v: got %v, want %v", tt.err, got, tt.want)
		}
		if tt.want == nil && (errors.Is(got, ErrMediaGone) || errors.Is(got, ErrNotConnected) || !errors.Is(got, tt.err)) {
			t.Errorf("%v: got %v, want it as it is", tt.err, got)
		}
	}
}

// TestWhatsmeowSecretEdit: an edit that came encrypted with the edited
// message's secret is decrypted by whatsmeow and told as an Edited; one
// whatsmeow cannot decrypt is not told.
func TestWhatsmeowSecretEdit(t *testing.T) {
	h := newHarness(t)
	_, fc := h.pair(t)
	fc.secrets["S1"] = &waE2E.Message{Conversation: proto.String("on second thought")}
	before := len(h.rec.all())
	fc.emit(delivered(direct, "S2", secretEdit("3EB0IN", waE2E.SecretEncryptedMessage_MESSAGE_EDIT)))
	fc.emit(delivered(direct, "S1", secretEdit("3EB0IN", waE2E.SecretEncryptedMessage_MESSAGE_EDIT)))
	evs := h.rec.all()[before:]
	if len(evs) != 1 {
		t.Fatalf("events %+v, want the decrypted edit only", evs)
	}
	if e, ok := evs[0].(*Edited); !ok || e.TargetID != "3EB0IN" || e.Text != "on second thought" || e.WAMessageID != "S1" {
		t.Errorf("edit told as %+v", evs[0])
	}
}
