package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
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
		m, err := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindText, Text: "hi"}, nil)
		if err != nil || m.GetConversation() != "hi" {
			t.Fatalf("got %v, %v", m, err)
		}
	})
	t.Run("image carries the upload", func(t *testing.T) {
		var mt whatsmeow.MediaType
		m, err := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindImage, Media: media}, fakeUpload(&mt))
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
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindDocument, Media: media}, fakeUpload(&mt))
		d := m.GetDocumentMessage()
		if mt != whatsmeow.MediaDocument || d.GetFileName() != "p.png" || d.GetCaption() != "look" || d.GetFileLength() != 5 {
			t.Errorf("document message %v", d)
		}
	})
	t.Run("ogg audio is a voice note", func(t *testing.T) {
		var mt whatsmeow.MediaType
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindAudio, Media: &Media{Data: []byte("a"), MimeType: "audio/ogg; codecs=opus"}}, fakeUpload(&mt))
		if a := m.GetAudioMessage(); mt != whatsmeow.MediaAudio || !a.GetPTT() || a.GetMimetype() != "audio/ogg; codecs=opus" {
			t.Errorf("audio message %v", a)
		}
	})
	t.Run("video has no caption when none given", func(t *testing.T) {
		var mt whatsmeow.MediaType
		m, _ := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindVideo, Media: &Media{Data: []byte("v"), MimeType: "video/mp4"}}, fakeUpload(&mt))
		if v := m.GetVideoMessage(); mt != whatsmeow.MediaVideo || v.Caption != nil {
			t.Errorf("video message %v", v)
		}
	})
	t.Run("upload failure is returned", func(t *testing.T) {
		fail := func(context.Context, []byte, whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
			return whatsmeow.UploadResponse{}, whatsmeow.ErrNotConnected
		}
		_, err := buildMessage(ctx, OutgoingMessage{Kind: apiws.KindImage, Media: media}, fail)
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
