package whatsapp

import (
	"encoding/base64"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// qrSize is the PNG's side in pixels: large enough for a phone camera to
// read a dense WhatsApp code off a laptop screen.
const qrSize = 256

// qrDataURL renders code as a PNG QR code in a data URL, ready for an <img>.
func qrDataURL(code string) (string, error) {
	png, err := qrcode.Encode(code, qrcode.Medium, qrSize)
	if err != nil {
		return "", fmt.Errorf("render qr code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}
