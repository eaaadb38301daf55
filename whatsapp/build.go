package whatsapp

import (
	"fmt"

	"github.com/apiws/apiws"
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
