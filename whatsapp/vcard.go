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

// parseVCard reads the name (FN, else N) and the phones of a contact card.
// A phone is its WhatsApp id (waid) when it has one, else its number as
// written; phones that are no E.164 number are left out. A card that cannot
// be read gives nothing.
func parseVCard(text string) (name string, phones []string) {
	phones = []string{}
	card, err := vcard.NewDecoder(strings.NewReader(text)).Decode()
	if err != nil {
		return "", phones
	}
	name = card.PreferredValue(vcard.FieldFormattedName)
	if n := card.Name(); name == "" && n != nil {
		name = strings.TrimSpace(strings.Join([]string{n.GivenName, n.AdditionalName, n.FamilyName}, " "))
	}
	seen := map[string]bool{}
	for _, f := range card[vcard.FieldTelephone] {
		p := f.Value
		if waid := f.Params.Get("WAID"); waid != "" {
			p = "+" + waid
		}
		if e164, err := normalizePhone(p); err == nil && !seen[e164] {
			seen[e164] = true
			phones = append(phones, e164)
		}
	}
	return name, phones
}
