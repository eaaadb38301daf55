package messaging

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/phones"
	"github.com/apiws/apiws/whatsapp"
)

// Limits of the content kinds beyond text and media.
const (
	maxContactCards    = 10
	maxCardNameLength  = 255
	maxCardPhones      = 10
	maxPlaceLength     = 1024
	minPollOptions     = 2
	maxPollOptions     = 12
	maxPollOption      = 100
	maxQuestionLength  = 255
	defaultSelectCount = 1
	maxMentions        = 50
)

// draft is a send's input once validated: the recipient in E.164 form
// ("" when the send names none, to answer in the quoted message's chat),
// the kind, and the content apart from media (fetched later).
type draft struct {
	to string
	// toLID is the recipient's LID when only that is known (a reply to a
	// sender WhatsApp hid).
	toLID    string
	kind     apiws.MessageKind
	text     string
	location *apiws.Location
	contacts []apiws.ContactCard
	poll     *apiws.Poll
	mentions []string
}

// validate checks a send's input on its own, with no lookup: every
// mistake it finds is a userError INVALID at the field's path (NOT_FOUND
// for groupId: Send looks the group up).
func validate(in apiws.SendMessage) (*draft, apiws.Errors) {
	v := &validation{}
	d := &draft{to: v.recipient(in)}
	d.kind = v.content(in)
	if in.Text != nil {
		d.text = *in.Text
		if utf8.RuneCountInString(d.text) > MaxTextLength {
			v.bad(field("text"), "must be at most 4096 characters")
		}
	}
	if in.Location != nil {
		d.location = v.location(in.Location)
	}
	if in.Contacts != nil {
		d.contacts = v.contacts(in.Contacts)
	}
	if in.Poll != nil {
		d.poll = v.poll(in.Poll)
	}
	if in.Mentions != nil {
		d.mentions = v.mentions(in)
	}
	if in.ReplyTo != nil && *in.ReplyTo == "" {
		v.bad(field("replyTo"), "give the id of the message to quote")
	}
	if in.IdempotencyKey != nil && (len(*in.IdempotencyKey) == 0 || len(*in.IdempotencyKey) > maxKeyLength) {
		v.bad(field("idempotencyKey"), "must be 1 to 255 characters")
	}
	if in.ClientReference != nil && len(*in.ClientReference) > maxReferenceLength {
		v.bad(field("clientReference"), "must be at most 255 characters")
	}
	return d, v.errs
}

// validation collects the userErrors of one input.
type validation struct{ errs apiws.Errors }

func (v *validation) bad(f []string, msg string) {
	v.errs = append(v.errs, &apiws.Error{Code: apiws.EINVALID, Field: f, Message: msg})
}

// recipient checks that the input names exactly one of to and groupId, or
// neither with replyTo, and returns to in E.164 form.
func (v *validation) recipient(in apiws.SendMessage) string {
	switch {
	case in.To != nil && in.GroupID != nil:
		v.bad(field("groupId"), "give either to or groupId, not both")
		return ""
	case in.GroupID != nil:
		return "" // Send finds the group
	case in.To == nil:
		if in.ReplyTo == nil {
			v.bad(field("to"), "give the recipient: to, groupId, or replyTo to answer in the quoted message's chat")
		}
		return ""
	}
	to, ok := phones.Normalize(*in.To)
	if !ok {
		v.bad(field("to"), "is not a valid phone number in international form, e.g. +14155550123")
	}
	return to
}

// content checks that the input carries one kind of content (text goes with
// media only, as its caption) and returns that kind. A second kind is
// refused at the later field, in the order text, media, location, contacts,
// poll.
func (v *validation) content(in apiws.SendMessage) apiws.MessageKind {
	hasText := in.Text != nil && strings.TrimSpace(*in.Text) != ""
	var kind apiws.MessageKind
	if hasText {
		kind = apiws.KindText
	}
	if in.Media != nil {
		kind = in.Media.Kind // text with media is its caption
	}
	others := []struct {
		given bool
		kind  apiws.MessageKind
		name  string
	}{
		{in.Location != nil, apiws.KindLocation, "location"},
		{in.Contacts != nil, apiws.KindContact, "contacts"},
		{in.Poll != nil, apiws.KindPoll, "poll"},
	}
	for _, o := range others {
		if !o.given {
			continue
		}
		if kind != "" {
			v.bad(field(o.name), "give one kind of content: text (with media as its caption), media, a location, contacts or a poll")
			continue
		}
		kind = o.kind
	}
	if kind == "" {
		v.bad(field("text"), "give a text, media, a location, contacts or a poll")
	}
	return kind
}

func (v *validation) location(l *apiws.Location) *apiws.Location {
	if math.IsNaN(l.Latitude) || l.Latitude < -90 || l.Latitude > 90 {
		v.bad(field("location", "latitude"), "must be between -90 and 90")
	}
	if math.IsNaN(l.Longitude) || l.Longitude < -180 || l.Longitude > 180 {
		v.bad(field("location", "longitude"), "must be between -180 and 180")
	}
	if l.Name != nil && utf8.RuneCountInString(*l.Name) > maxPlaceLength {
		v.bad(field("location", "name"), "must be at most 1024 characters")
	}
	if l.Address != nil && utf8.RuneCountInString(*l.Address) > maxPlaceLength {
		v.bad(field("location", "address"), "must be at most 1024 characters")
	}
	return &apiws.Location{Latitude: l.Latitude, Longitude: l.Longitude, Name: nonBlank(l.Name), Address: nonBlank(l.Address)}
}

// contacts checks the cards and writes each as the vCard that is sent.
func (v *validation) contacts(in []*apiws.ContactCardInput) []apiws.ContactCard {
	if len(in) == 0 || len(in) > maxContactCards {
		v.bad(field("contacts"), "give one to ten contact cards")
		return nil
	}
	cards := make([]apiws.ContactCard, 0, len(in))
	for i, c := range in {
		at := strconv.Itoa(i)
		name := strings.TrimSpace(c.Name)
		if name == "" || utf8.RuneCountInString(name) > maxCardNameLength {
			v.bad(field("contacts", at, "name"), "must be 1 to 255 characters")
		}
		if len(c.Phones) == 0 || len(c.Phones) > maxCardPhones {
			v.bad(field("contacts", at, "phones"), "give one to ten phone numbers")
		}
		card := apiws.ContactCard{Name: name, Phones: make([]string, 0, len(c.Phones))}
		for j, p := range c.Phones {
			e164, ok := phones.Normalize(p)
			if !ok {
				v.bad(field("contacts", at, "phones", strconv.Itoa(j)), "is not a valid phone number in international form, e.g. +14155550123")
			}
			card.Phones = append(card.Phones, e164)
		}
		card.VCard = whatsapp.VCard(card.Name, card.Phones)
		cards = append(cards, card)
	}
	return cards
}

func (v *validation) poll(in *apiws.PollInput) *apiws.Poll {
	p := &apiws.Poll{Question: strings.TrimSpace(in.Question), SelectableCount: defaultSelectCount}
	if p.Question == "" || utf8.RuneCountInString(p.Question) > maxQuestionLength {
		v.bad(field("poll", "question"), "must be 1 to 255 characters")
	}
	if len(in.Options) < minPollOptions || len(in.Options) > maxPollOptions {
		v.bad(field("poll", "options"), "give 2 to 12 options")
	}
	seen := map[string]bool{}
	for i, o := range in.Options {
		o = strings.TrimSpace(o)
		switch {
		case o == "" || utf8.RuneCountInString(o) > maxPollOption:
			v.bad(field("poll", "options", strconv.Itoa(i)), "must be 1 to 100 characters")
		case seen[o]:
			v.bad(field("poll", "options", strconv.Itoa(i)), "repeats an earlier option")
		}
		seen[o] = true
		p.Options = append(p.Options, o)
	}
	if in.SelectableCount != nil {
		p.SelectableCount = *in.SelectableCount
	}
	if p.SelectableCount < 1 || p.SelectableCount > len(in.Options) {
		v.bad(field("poll", "selectableCount"), "must be between 1 and the number of options")
	}
	return p
}

// mentions checks the mentioned phones: at most 50, of a message with a
// text (or a caption), where their @digits belong.
func (v *validation) mentions(in apiws.SendMessage) []string {
	if len(in.Mentions) > maxMentions {
		v.bad(field("mentions"), "mention at most 50 numbers")
		return nil
	}
	if in.Text == nil || strings.TrimSpace(*in.Text) == "" {
		if len(in.Mentions) > 0 {
			v.bad(field("mentions"), "mentions go with a text or a caption, where their @digits appear")
		}
		return nil
	}
	out := make([]string, 0, len(in.Mentions))
	for i, p := range in.Mentions {
		e164, ok := phones.Normalize(p)
		if !ok {
			v.bad(field("mentions", strconv.Itoa(i)), "is not a valid phone number in international form, e.g. +14155550123")
			continue
		}
		if !slices.Contains(out, e164) {
			out = append(out, e164)
		}
	}
	return out
}

// nonBlank drops an empty or blank optional string.
func nonBlank(s *string) *string {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil
	}
	t := strings.TrimSpace(*s)
	return &t
}
