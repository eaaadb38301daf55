package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"go.mau.fi/whatsmeow"
)

// mapSendError classifies an error from uploading or sending into the
// SendError Send returns. Errors it does not recognise are retryable: most
// of what fails unexpectedly on the way to WhatsApp is a passing network or
// server condition, and the dispatcher bounds retries anyway.
func mapSendError(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	var disc *whatsmeow.DisconnectedError
	var iq *whatsmeow.IQError
	var netErr net.Error
	switch {
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn), errors.As(err, &disc):
		return sendErr(CodeNotConnected, "number is not connected to whatsapp", true, err)
	case errors.Is(err, whatsmeow.ErrMessageTimedOut), errors.Is(err, whatsmeow.ErrIQTimedOut),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return sendErr(CodeTimeout, "timed out waiting for whatsapp", true, err)
	case errors.Is(err, context.Canceled):
		return sendErr(CodeTimeout, "send interrupted", true, err)
	case errors.Is(err, whatsmeow.ErrRecipientADJID), errors.Is(err, whatsmeow.ErrUnknownServer),
		errors.Is(err, whatsmeow.ErrBroadcastListUnsupported):
		return sendErr(CodeSendFailed, "recipient address is not a person's number", false, err)
	case errors.Is(err, whatsmeow.ErrServerReturnedError):
		return serverError(serverErrorCode(err), err)
	case errors.As(err, &iq):
		return serverError(iq.Code, err)
	}
	return sendErr(CodeSendFailed, "sending failed: "+err.Error(), true, err)
}

// serverError classifies an error status WhatsApp answered with.
func serverError(code int, err error) *SendError {
	switch {
	case code == 429 || code == 419: // rate-overlimit, resource-limit
		return sendErr(CodeRateLimited, "whatsapp is rate limiting this number", true, err)
	case code == 408:
		return sendErr(CodeTimeout, "timed out waiting for whatsapp", true, err)
	case code >= 500 || code == 0:
		return sendErr(CodeSendFailed, fmt.Sprintf("whatsapp server error %d", code), true, err)
	case code == 404:
		return sendErr(CodeNotOnWhatsApp, "recipient is not on whatsapp", false, err)
	case code == 401 || code == 403:
		return sendErr(CodeNotConnected, fmt.Sprintf("whatsapp refused this number (%d)", code), false, err)
	}
	return sendErr(CodeSendFailed, fmt.Sprintf("whatsapp refused the message (%d)", code), false, err)
}

// serverErrorCode reads the status whatsmeow appends to
// ErrServerReturnedError ("server returned error 479"); it exports no field.
func serverErrorCode(err error) int {
	msg := err.Error()
	i := strings.LastIndexByte(msg, ' ')
	code, convErr := strconv.Atoi(msg[i+1:])
	if convErr != nil {
		return 0
	}
	return code
}
