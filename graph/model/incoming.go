package model

import "github.com/apiws/apiws"

// IncomingMessage is one event of incomingMessages: the message (loaded by
// its resolver) and its content while in transit.
type IncomingMessage struct {
	MessageID string
	Text      *string
	Media     *apiws.MediaInfo
	Content   *apiws.MessageContent
}
