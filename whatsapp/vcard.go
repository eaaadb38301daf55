package whatsapp

import (
	"strings"

	"github.com/emersion/go-vcard"
)

// VCard writes a contact card as vCard 3.0, the form WhatsApp shares
// contacts in: each phone (E.164) carries its WhatsApp id (waid), so the
// recipient's app offers to message it.
func VCard(name string, phones []string) string {
	card := vcard.Card{}
	card.SetValue(vcard.FieldVersion, "3.0")
	card.SetValue(vcard.FieldFormattedName, name)
	card.SetName(&vcard.Name{GivenName: name})
	for _, p := range phones {
		card.Add(vcard.FieldTelephone, &vcard.Field{Value: p, Params: vcard.Params{
			vcard.ParamType: {vcard.TypeCell},
			"WAID":          {phoneDigits(p)},
		}})
	}
	var b strings.Builder
	// Encoding a card with a VERSION to a strings.Builder cannot fail.
	_ = vcard.NewEncoder(&b).Encode(card)
	return b.String()
}
