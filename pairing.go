package apiws

import "time"

// PairingEvent is one step of a pairing as its subscribers see it: a
// *PairingQRCode, a *PairingSuccess or a *PairingFailure.
type PairingEvent interface {
	isPairingEvent()
}

// PairingQRCode is the QR code to scan now, valid until ExpiresAt.
type PairingQRCode struct {
	// Code is the text the QR code encodes.
	Code string `json:"code"`
	// Image is the QR code as a PNG in a data: URL.
	Image     string    `json:"image"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// PairingSuccess ends a pairing that linked the number.
type PairingSuccess struct {
	Number *Number `json:"number"`
}

// PairingFailure ends a pairing that did not link the number.
type PairingFailure struct {
	// Reason is TIMEOUT, REJECTED, CANCELLED, CLIENT_OUTDATED, ERROR, or
	// NOT_PAIRING for a number with no pairing under way and none done.
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (*PairingQRCode) isPairingEvent()  {}
func (*PairingSuccess) isPairingEvent() {}
func (*PairingFailure) isPairingEvent() {}
