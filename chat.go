package apiws

// ChatPresence is what sendChatPresence shows the peer of a chat.
type ChatPresence string

// The chat presences.
const (
	PresenceTyping    ChatPresence = "TYPING"
	PresenceRecording ChatPresence = "RECORDING"
	PresencePaused    ChatPresence = "PAUSED"
)

// SendChatPresence is the input of MessageService.SendChatPresence.
type SendChatPresence struct {
	NumberID string
	// To is the peer's phone; exactly one of To and GroupID.
	To      *string
	GroupID *string
	State   ChatPresence
}

// MaxMarkRead is how many messages one markRead takes.
const MaxMarkRead = 100
