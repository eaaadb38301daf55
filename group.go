package apiws

import (
	"context"
	"time"
)

// PrefixGroup is the id prefix of groups.
const PrefixGroup = "grp"

// Group limits.
const (
	MaxGroupName         = 100
	MaxGroupParticipants = 256
	// GroupLinkPrefix starts every group invite link.
	GroupLinkPrefix = "https://chat.whatsapp.com/"
)

// GroupRole is a participant's standing in a group.
type GroupRole string

// Group roles.
const (
	RoleMember     GroupRole = "MEMBER"
	RoleAdmin      GroupRole = "ADMIN"
	RoleSuperAdmin GroupRole = "SUPERADMIN"
)

// IsAdmin reports whether r may rename the group, change its participants
// and read its invite link.
func (r GroupRole) IsAdmin() bool { return r == RoleAdmin || r == RoleSuperAdmin }

// GroupParticipant is someone in a group and their role.
type GroupParticipant struct {
	Peer Peer      `json:"peer"`
	Role GroupRole `json:"role"`
}

// Group is a WhatsApp group one of an account's numbers is in, as last
// told by WhatsApp: metadata only, no message of it.
type Group struct {
	ID        string `bun:"id,pk"`
	AccountID string `bun:"account_id,notnull"`
	NumberID  string `bun:"number_id,notnull"`
	// JID is WhatsApp's address of the group, e.g. 1203...@g.us; unique
	// per number.
	JID          string              `bun:"jid,notnull"`
	Name         string              `bun:"name,notnull"`
	Topic        *string             `bun:"topic"`
	Participants []*GroupParticipant `bun:"participants,type:text"`
	// Role is the number's own role; nil once it left.
	Role *GroupRole `bun:"role"`
	// CreatedAt is when the group was created on WhatsApp, when known.
	CreatedAt *time.Time `bun:"created_at"`
	UpdatedAt time.Time  `bun:"updated_at,notnull"`
}

// GroupChange says what a GROUP_UPDATED event reports.
type GroupChange string

// Group changes.
const (
	GroupCreated             GroupChange = "CREATED"
	GroupJoined              GroupChange = "JOINED"
	GroupLeft                GroupChange = "LEFT"
	GroupName                GroupChange = "NAME"
	GroupTopic               GroupChange = "TOPIC"
	GroupParticipantsAdded   GroupChange = "PARTICIPANTS_ADDED"
	GroupParticipantsRemoved GroupChange = "PARTICIPANTS_REMOVED"
	GroupPromoted            GroupChange = "PROMOTED"
	GroupDemoted             GroupChange = "DEMOTED"
)

// GroupUpdatedEvent is a GROUP_UPDATED event of the log as GraphQL shows
// it: a group of one of the account's numbers changed.
type GroupUpdatedEvent struct{ *LogEvent }

// Group is the group as it was right after the change.
func (e GroupUpdatedEvent) Group() *Group { return e.groupDetail().Group }

// Change is what changed.
func (e GroupUpdatedEvent) Change() GroupChange { return e.groupDetail().GroupChange }

// Participants are the participants the change is about; empty for a
// change of the group itself.
func (e GroupUpdatedEvent) Participants() []Peer {
	if ps := e.groupDetail().Participants; ps != nil {
		return ps
	}
	return []Peer{}
}

func (e GroupUpdatedEvent) groupDetail() *EventDetail {
	if e.Detail == nil {
		return &EventDetail{}
	}
	return e.Detail
}

// GroupDetail is what a GROUP_UPDATED event holds beyond the log's
// columns; EventDetail embeds it.
type GroupDetail struct {
	// Group is the group right after the change.
	Group       *Group      `json:"group,omitempty"`
	GroupChange GroupChange `json:"groupChange,omitempty"`
	// Participants are those the change is about.
	Participants []Peer `json:"participants,omitempty"`
}

// NewGroup is the input of GroupService.CreateGroup.
type NewGroup struct {
	NumberID     string
	Name         string
	Participants []string
}

// GroupUpdate is the input of GroupService.UpdateGroup: nil leaves a field
// as it is; an empty topic removes it.
type GroupUpdate struct {
	ID    string
	Name  *string
	Topic *string
}

// GroupParticipantsUpdate is the input of
// GroupService.UpdateGroupParticipants: phones to add, remove, promote to
// admin and demote to member, in that order.
type GroupParticipantsUpdate struct {
	GroupID                      string
	Add, Remove, Promote, Demote []string
}

// GroupService manages the groups of an account's numbers, as WhatsApp
// has them. Mutations need ScopeManageGroups, reads ScopeRead. Another
// account's group or number is ENOTFOUND; changing a group the number is
// not an admin of is EFORBIDDEN at the input, as a userError. Every change
// logs a GROUP_UPDATED event with the participants it is about, in the
// transaction that stores it.
type GroupService interface {
	// Groups returns the groups the number is in, asked of WhatsApp when
	// the number is connected (and stored), else as last stored.
	Groups(ctx context.Context, numberID string) ([]*Group, error)
	// Group returns one group of the caller's account, or ENOTFOUND.
	Group(ctx context.Context, id string) (*Group, error)
	// CreateGroup creates a group with the number as its super admin.
	CreateGroup(ctx context.Context, in NewGroup) (*Group, error)
	// UpdateGroup renames the group or changes its topic.
	UpdateGroup(ctx context.Context, in GroupUpdate) (*Group, error)
	// UpdateGroupParticipants adds, removes, promotes and demotes
	// participants.
	UpdateGroupParticipants(ctx context.Context, in GroupParticipantsUpdate) (*Group, error)
	// LeaveGroup makes the number leave the group; the group stays, with
	// no role.
	LeaveGroup(ctx context.Context, id string) (*Group, error)
	// GroupInviteLink returns the group's invite link, revoking the old one
	// first with reset.
	GroupInviteLink(ctx context.Context, id string, reset bool) (string, error)
	// JoinGroup makes the number join the group of an invite link.
	JoinGroup(ctx context.Context, numberID, link string) (*Group, error)
}
