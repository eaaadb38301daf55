package messaging

import (
	"slices"
	"strings"
	"testing"

	"github.com/apiws/apiws"
)

func ptr[T any](v T) *T { return &v }

func options(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "option " + string(rune('a'+i))
	}
	return out
}

func card(name string, phones ...string) *apiws.ContactCardInput {
	return &apiws.ContactCardInput{Name: name, Phones: phones}
}

func cards(n int) []*apiws.ContactCardInput {
	out := make([]*apiws.ContactCardInput, n)
	for i := range out {
		out[i] = card("Ada", "+14155550123")
	}
	return out
}

var (
	here  = &apiws.Location{Latitude: 52.52, Longitude: 13.405}
	lunch = &apiws.PollInput{Question: "Lunch?", Options: []string{"Pizza", "Sushi"}}
	photo = &apiws.MediaInput{Kind: apiws.KindImage, MimeType: "image/png", Data: ptr("iVBORw0KGgo=")}
)

// badSendTests are inputs validate refuses, each with the userError it
// gives (code@path).
var badSendTests = []struct {
	name string
	in   apiws.SendMessage
	want string
}{
	{"both to and groupId", apiws.SendMessage{To: ptr("+14155550123"), GroupID: ptr("grp_1"), Text: ptr("x")}, "INVALID@input.groupId"},
	{"no recipient", apiws.SendMessage{Text: ptr("x")}, "INVALID@input.to"},
	{"malformed recipient", apiws.SendMessage{To: ptr("12345"), Text: ptr("x")}, "INVALID@input.to"},
	{"no content", apiws.SendMessage{To: ptr("+14155550123")}, "INVALID@input.text"},
	{"blank text", apiws.SendMessage{To: ptr("+14155550123"), Text: ptr("  ")}, "INVALID@input.text"},
	{"text too long", apiws.SendMessage{To: ptr("+14155550123"), Text: ptr(strings.Repeat("a", 4097))}, "INVALID@input.text"},
	{"text and location", apiws.SendMessage{To: ptr("+14155550123"), Text: ptr("x"), Location: here}, "INVALID@input.location"},
	{"media and location", apiws.SendMessage{To: ptr("+14155550123"), Media: photo, Location: here}, "INVALID@input.location"},
	{"location and contacts", apiws.SendMessage{To: ptr("+14155550123"), Location: here, Contacts: cards(1)}, "INVALID@input.contacts"},
	{"contacts and poll", apiws.SendMessage{To: ptr("+14155550123"), Contacts: cards(1), Poll: lunch}, "INVALID@input.poll"},
	{"text and poll", apiws.SendMessage{To: ptr("+14155550123"), Text: ptr("x"), Poll: lunch}, "INVALID@input.poll"},
	{"latitude over 90", apiws.SendMessage{To: ptr("+14155550123"), Location: &apiws.Location{Latitude: 90.01}}, "INVALID@input.location.latitude"},
	{"latitude under -90", apiws.SendMessage{To: ptr("+14155550123"), Location: &apiws.Location{Latitude: -91}}, "INVALID@input.location.latitude"},
	{"longitude over 180", apiws.SendMessage{To: ptr("+14155550123"), Location: &apiws.Location{Longitude: 180.5}}, "INVALID@input.location.longitude"},
	{"longitude under -180", apiws.SendMessage{To: ptr("+14155550123"), Location: &apiws.Location{Longitude: -181}}, "INVALID@input.location.longitude"},
	{"place name too long", apiws.SendMessage{To: ptr("+14155550123"), Location: &apiws.Location{Name: ptr(strings.Repeat("n", 1025))}}, "INVALID@input.location.name"},
	{"no contact cards", apiws.SendMessage{To: ptr("+14155550123"), Contacts: []*apiws.ContactCardInput{}}, "INVALID@input.contacts"},
	{"eleven contact cards", apiws.SendMessage{To: ptr("+14155550123"), Contacts: cards(11)}, "INVALID@input.contacts"},
	{"card without a phone", apiws.SendMessage{To: ptr("+14155550123"), Contacts: []*apiws.ContactCardInput{card("Ada")}}, "INVALID@input.contacts.0.phones"},
	{"card without a name", apiws.SendMessage{To: ptr("+14155550123"), Contacts: []*apiws.ContactCardInput{card("Ada", "+14155550123"), card(" ", "+14155550123")}}, "INVALID@input.contacts.1.name"},
	{"card with a bad phone", apiws.SendMessage{To: ptr("+14155550123"), Contacts: []*apiws.ContactCardInput{card("Ada", "+14155550123", "call me")}}, "INVALID@input.contacts.0.phones.1"},
	{"poll of one option", apiws.SendMessage{To: ptr("+14155550123"), Poll: &apiws.PollInput{Question: "?", Options: options(1)}}, "INVALID@input.poll.options"},
	{"poll of 13 options", apiws.SendMessage{To: ptr("+14155550123"), Poll: &apiws.PollInput{Question: "?", Options: options(13)}}, "INVALID@input.poll.options"},
	{"poll with a duplicate option", apiws.SendMessage{To: ptr("+14155550123"), Poll: &apiws.PollInput{Question: "?", Options: []string{"Yes", "No", "Yes"}}}, "INVALID@input.poll.options.2"},
	{"poll option over 100 characters", apiws.SendMessage{To: ptr("+14155550123"), Poll: &apiws.PollInput{Question: "?", Options: []string{"Yes", strings.Repeat("o", 101)}}}, "INVALID@input.poll.options.1"},
	{"poll with an empty option", apiws.SendMessage{To: ptr("+14155550123"), Poll: &apiws.PollInput{Question: "?", Options: []string{"", "No"}}}, "INVALID@input.poll.options.0"},
	{"poll without a question", apiws.SendMessage{To: ptr("+14155550123"), Poll: &apiws.PollInput{Question: " ", Options: options(2)}}, "INVALID@input.poll.question"},
	{"poll question too long", apiws.SendMessage{To: ptr("+14155550123"), Poll: &apiws.PollInput{Question: strings.Repeat("q", 256), Options: options(2)}}, "INVALID@input.poll.question"},
	{"poll selecting none", apiws.SendMessage{To: ptr("+14155550123"), Poll: &apiws.PollInput{Question: "?", Options: options(3), SelectableCount: ptr(0)}}, "INVALID@input.poll.selectableCount"},
	{"poll selecting more than its options", apiws.SendMessage{To: ptr("+14155550123"), Poll: &apiws.PollInput{Question: "?", Options: options(3), SelectableCount: ptr(4)}}, "INVALID@input.poll.selectableCount"},
	{"51 mentions", apiws.SendMessage{To: ptr("+14155550123"), Text: ptr("hi all"), Mentions: slices.Repeat([]string{"+14155550199"}, 51)}, "INVALID@input.mentions"},
	{"a mention that is no phone", apiws.SendMessage{To: ptr("+14155550123"), Text: ptr("hi @x"), Mentions: []string{"x"}}, "INVALID@input.mentions.0"},
	{"mentions without a text", apiws.SendMessage{To: ptr("+14155550123"), Location: here, Mentions: []string{"+14155550199"}}, "INVALID@input.mentions"},
	{"an empty replyTo", apiws.SendMessage{Text: ptr("x"), ReplyTo: ptr("")}, "INVALID@input.replyTo"},
	{"idempotency key too long", apiws.SendMessage{To: ptr("+14155550123"), Text: ptr("x"), IdempotencyKey: ptr(strings.Repeat("k", 256))}, "INVALID@input.idempotencyKey"},
}

func errorCodes(errs apiws.Errors) []string {
	var out []string
	for _, e := range errs {
		out = append(out, string(e.Code)+"@"+strings.Join(e.Field, "."))
	}
	return out
}

func TestValidateRefusesBadInput(t *testing.T) {
	for _, tt := range badSendTests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := validate(tt.in)
			if got := errorCodes(errs); !slices.Equal(got, []string{tt.want}) {
				t.Fatalf("userErrors %v; want only %s", got, tt.want)
			}
		})
	}
}

func TestValidateAcceptsEachKind(t *testing.T) {
	tests := []struct {
		name string
		in   apiws.SendMessage
		kind apiws.MessageKind
	}{
		{"text", apiws.SendMessage{To: ptr("+1 415 555 0123"), Text: ptr("hi")}, apiws.KindText},
		{"media with a caption", apiws.SendMessage{To: ptr("+14155550123"), Text: ptr("look"), Media: photo}, apiws.KindImage},
		{"location at the edge", apiws.SendMessage{To: ptr("+14155550123"), Location: &apiws.Location{Latitude: -90, Longitude: 180, Name: ptr(" ")}}, apiws.KindLocation},
		{"ten contact cards", apiws.SendMessage{To: ptr("+14155550123"), Contacts: cards(10)}, apiws.KindContact},
		{"poll of twelve options, all selectable", apiws.SendMessage{To: ptr("+14155550123"), Poll: &apiws.PollInput{Question: "?", Options: options(12), SelectableCount: ptr(12)}}, apiws.KindPoll},
		{"empty text beside a location", apiws.SendMessage{To: ptr("+14155550123"), Text: ptr(""), Location: here}, apiws.KindLocation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, errs := validate(tt.in)
			if len(errs) > 0 || d.kind != tt.kind || d.to != "+14155550123" {
				t.Fatalf("got %+v, %v", d, errorCodes(errs))
			}
		})
	}
	t.Run("replyTo alone leaves the recipient to the quoted message", func(t *testing.T) {
		d, errs := validate(apiws.SendMessage{Text: ptr("yes"), ReplyTo: ptr("msg_1")})
		if len(errs) > 0 || d.to != "" || d.kind != apiws.KindText {
			t.Errorf("got %+v, %v", d, errorCodes(errs))
		}
	})
	t.Run("mentions in E.164, each once", func(t *testing.T) {
		d, errs := validate(apiws.SendMessage{To: ptr("+14155550123"), Text: ptr("@14155550199"), Mentions: []string{"+1 415 555 0199", "+14155550199"}})
		if len(errs) > 0 || !slices.Equal(d.mentions, []string{"+14155550199"}) {
			t.Errorf("got %v, %v", d.mentions, errorCodes(errs))
		}
	})
	t.Run("a blank place name is dropped", func(t *testing.T) {
		d, _ := validate(tests[2].in)
		if d.location.Name != nil {
			t.Errorf("name %q", *d.location.Name)
		}
	})
	t.Run("cards carry their vCard and E.164 phones", func(t *testing.T) {
		d, _ := validate(apiws.SendMessage{To: ptr("+14155550123"), Contacts: []*apiws.ContactCardInput{card(" Ada ", "0044 20 7183 8750")}})
		c := d.contacts[0]
		if c.Name != "Ada" || !slices.Equal(c.Phones, []string{"+442071838750"}) || !strings.Contains(c.VCard, "WAID=442071838750:+442071838750") {
			t.Errorf("card %+v", c)
		}
	})
	t.Run("a poll lets one option be chosen unless told", func(t *testing.T) {
		d, _ := validate(apiws.SendMessage{To: ptr("+14155550123"), Poll: lunch})
		if d.poll.SelectableCount != 1 || !slices.Equal(d.poll.Options, []string{"Pizza", "Sushi"}) {
			t.Errorf("poll %+v", d.poll)
		}
	})
}
