package whatsapp

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/apiws/apiws"
)

// What the sandbox's recipients do after a message reached them, at
// delay scale 1, counted from its READ (see the Sandbox doc).
const (
	sandboxReactAfter  = 300 * time.Millisecond // 0004
	sandboxEchoAfter   = 700 * time.Millisecond // 0005
	sandboxEditAfter   = 300 * time.Millisecond // 0005, after the echo
	sandboxHiddenAfter = 700 * time.Millisecond // 0006
	sandboxOopsAfter   = 500 * time.Millisecond // 0007
	sandboxRevokeAfter = 500 * time.Millisecond // 0007, after the oops
)

// The sandbox's answers.
const (
	sandboxReaction   = "👍"
	sandboxEdited     = " (edited)"
	sandboxEchoText   = "echo"
	sandboxHiddenText = "hidden"
	sandboxOopsText   = "oops"
)

// sandboxStep is one event of a sent message's story: after is counted from
// the send; event makes it when it happens, at.
type sandboxStep struct {
	after time.Duration
	event func(at time.Time) Event
}

// story is everything that follows the send of msg from numberID to the
// phone to, in the order it happens: the receipts and the recipient's
// answers. A reaction has none: WhatsApp sends no receipts for one, and no
// one answers it.
func story(numberID, to string, msg OutgoingMessage) []sandboxStep {
	if msg.Kind == apiws.KindReaction {
		return nil
	}
	receipt := func(st apiws.MessageStatus) func(time.Time) Event {
		return func(at time.Time) Event {
			return &Receipt{NumberID: numberID, MessageIDs: []string{msg.ID}, Status: st, At: at}
		}
	}
	steps := []sandboxStep{{sandboxDelivered, receipt(apiws.StatusDelivered)}}
	if strings.HasSuffix(to, "0003") {
		steps = append(steps, sandboxStep{sandboxEcho, func(at time.Time) Event { return echo0003(numberID, to, msg, at) }})
	}
	if strings.HasSuffix(to, "0001") {
		return steps // never read, so nothing follows
	}
	read := sandboxDelivered + sandboxRead
	steps = append(steps, sandboxStep{read, receipt(apiws.StatusRead)})
	if msg.Kind == apiws.KindAudio {
		steps = append(steps, sandboxStep{read + sandboxPlayed, receipt(apiws.StatusPlayed)})
	}
	for _, st := range answers(numberID, to, msg) {
		st.after += read
		steps = append(steps, st)
	}
	// Stable: steps due at once happen in the order written.
	slices.SortStableFunc(steps, func(a, b sandboxStep) int { return cmp.Compare(a.after, b.after) })
	return steps
}

// answers is what a recipient with a special ending does once it has read
// msg, counted from the READ.
func answers(numberID, from string, msg OutgoingMessage) []sandboxStep {
	name := "Sandbox " + from[len(from)-4:]
	switch {
	case strings.HasSuffix(from, "0004"):
		id := NewMessageID()
		return []sandboxStep{{sandboxReactAfter, func(at time.Time) Event {
			return &Reacted{NumberID: numberID, WAMessageID: id, TargetID: msg.ID, From: from, Emoji: sandboxReaction, At: at}
		}}}
	case strings.HasSuffix(from, "0005"):
		return echo0005(numberID, from, name, msg)
	case strings.HasSuffix(from, "0006"):
		id, lid := NewMessageID(), SandboxLID(from)
		return []sandboxStep{{sandboxHiddenAfter, func(at time.Time) Event {
			return &Inbound{NumberID: numberID, WAMessageID: id, FromLID: lid, PushName: name, Kind: apiws.KindText, Text: sandboxHiddenText, At: at}
		}}}
	case strings.HasSuffix(from, "0007"):
		oops, revoke := NewMessageID(), NewMessageID()
		return []sandboxStep{
			{sandboxOopsAfter, func(at time.Time) Event {
				return &Inbound{NumberID: numberID, WAMessageID: oops, From: from, PushName: name, Kind: apiws.KindText, Text: sandboxOopsText, At: at}
			}},
			{sandboxOopsAfter + sandboxRevokeAfter, func(at time.Time) Event {
				return &Revoked{NumberID: numberID, WAMessageID: revoke, TargetID: oops, From: from, At: at}
			}},
		}
	}
	return nil
}

// echo0005 is a 0005 recipient's answer: msg's content back, quoting it; a
// text is then edited, a poll voted on instead, and any file answered with
// an image, SandboxPNG.
func echo0005(numberID, from, name string, msg OutgoingMessage) []sandboxStep {
	id := NewMessageID()
	in := func(at time.Time) *Inbound {
		return &Inbound{NumberID: numberID, WAMessageID: id, From: from, PushName: name, Kind: msg.Kind, QuotedID: msg.ID, At: at}
	}
	switch msg.Kind {
	case apiws.KindText:
		edit := NewMessageID()
		return []sandboxStep{
			{sandboxEchoAfter, func(at time.Time) Event {
				e := in(at)
				e.Text = msg.Text
				return e
			}},
			{sandboxEchoAfter + sandboxEditAfter, func(at time.Time) Event {
				return &Edited{NumberID: numberID, WAMessageID: edit, TargetID: id, From: from, Text: msg.Text + sandboxEdited, At: at}
			}},
		}
	case apiws.KindLocation:
		return []sandboxStep{{sandboxEchoAfter, func(at time.Time) Event {
			e := in(at)
			e.Location = msg.Location
			return e
		}}}
	case apiws.KindContact:
		return []sandboxStep{{sandboxEchoAfter, func(at time.Time) Event {
			e := in(at)
			e.Contacts = msg.Contacts
			return e
		}}}
	case apiws.KindPoll:
		return []sandboxStep{{sandboxEchoAfter, func(at time.Time) Event {
			return &PollVoted{NumberID: numberID, WAMessageID: id, PollID: msg.ID, From: from, Options: []string{msg.Poll.Options[0]}, At: at}
		}}}
	case apiws.KindImage, apiws.KindDocument, apiws.KindAudio, apiws.KindVideo, apiws.KindSticker:
		return []sandboxStep{{sandboxEchoAfter, func(at time.Time) Event {
			e := in(at)
			e.Kind, e.Text = apiws.KindImage, sandboxEchoText
			e.Media = &InboundMedia{MimeType: "image/png", Caption: sandboxEchoText, Size: int64(len(SandboxPNG)), Ref: sandboxMediaRef}
			return e
		}}}
	}
	return nil
}

// echo0003 is a 0003 recipient's answer: the same content, unquoted.
func echo0003(numberID, from string, msg OutgoingMessage, at time.Time) *Inbound {
	in := &Inbound{NumberID: numberID, WAMessageID: NewMessageID(), From: from, PushName: "Sandbox echo", Kind: msg.Kind, Text: msg.Text,
		Location: msg.Location, Contacts: msg.Contacts, Poll: msg.Poll, At: at}
	if m := msg.Media; m != nil && msg.Kind != apiws.KindText {
		in.Text = m.Caption
		in.Media = &InboundMedia{MimeType: m.MimeType, FileName: m.FileName, Caption: m.Caption, Size: int64(len(m.Data))}
	}
	return in
}

// play reports steps in order, each at its time; it stops when s closes.
func (s *Sandbox) play(steps []sandboxStep) {
	var now time.Duration
	for _, st := range steps {
		if s.wait(context.Background(), st.after-now) != nil {
			return
		}
		now = st.after
		s.emit(st.event(time.Now()))
	}
}
