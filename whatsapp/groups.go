package whatsapp

import (
	"errors"
	"strings"
	"time"

	"github.com/apiws/apiws"
)

// GroupInfo is a group as WhatsApp describes it to one of its members.
type GroupInfo struct {
	// JID is the group's address, e.g. 120363025246125486@g.us.
	JID   string
	Name  string
	Topic string
	// Participants are every member, the number itself included.
	Participants []apiws.GroupParticipant
	// Role is the number's own role; "" when it is not (or no longer) a
	// member.
	Role apiws.GroupRole
	// CreatedAt is when the group was created; zero when not told.
	CreatedAt time.Time
}

// ParticipantAction is what UpdateGroupParticipants does to the phones it
// is given.
type ParticipantAction string

// Participant actions.
const (
	ParticipantsAdd     ParticipantAction = "add"
	ParticipantsRemove  ParticipantAction = "remove"
	ParticipantsPromote ParticipantAction = "promote"
	ParticipantsDemote  ParticipantAction = "demote"
)

// Errors of the group calls, for use with errors.Is.
var (
	// ErrNotAdmin means WhatsApp refused a change of the group because the
	// number is not one of its admins.
	ErrNotAdmin = errors.New("only the group's admins may do that")
	// ErrGroupNotFound means the group does not exist or the number is not
	// in it.
	ErrGroupNotFound = errors.New("no such group, or the number is not in it")
	// ErrInviteInvalid means an invite link is malformed, unknown or
	// revoked.
	ErrInviteInvalid = errors.New("the invite link is not valid")
)

// GroupUpdated reports that a group of one of a number's chats changed,
// or that the number joined or left one. Info is the group right after
// the change when the event told all of it (a join), else nil: ask Group.
type GroupUpdated struct {
	NumberID string
	JID      string
	Info     *GroupInfo
	// Change is what WhatsApp said changed; the receiver compares the
	// group before and after to tell the participants each change is
	// about.
	Change apiws.GroupChange
	// Participants are the participants WhatsApp named, by phone or LID.
	Participants []apiws.Peer
	At           time.Time
}

// Number returns the number the event is about.
func (e *GroupUpdated) Number() string { return e.NumberID }

func (*GroupUpdated) isEvent() {}

// isGroupJID reports whether chat is a group's JID rather than a phone:
// the chat calls (SendChatPresence) take either.
func isGroupJID(chat string) bool {
	return strings.HasSuffix(chat, "@g.us")
}

// inviteCode is the code of an invite link, or "" if link is not one.
func inviteCode(link string) string {
	if len(link) <= len(apiws.GroupLinkPrefix) || link[:len(apiws.GroupLinkPrefix)] != apiws.GroupLinkPrefix {
		return ""
	}
	return link[len(apiws.GroupLinkPrefix):]
}
