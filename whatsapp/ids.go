package whatsapp

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// NewMessageID returns a fresh WhatsApp-style message id: "3EB0" followed by
// 18 upper-case hex characters, as WhatsApp Web makes them. Choosing the id
// before the first attempt lets every retry send the same message.
func NewMessageID() string {
	var b [9]byte
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b[:])
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b[:]))
}
