package groups

import (
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/whatsapp"
)

// apply makes g what WhatsApp says the group is (info) to the number whose
// phone is self, and returns the
// GROUP_UPDATED events of every difference, in the order first, NAME,
// TOPIC, PARTICIPANTS_ADDED, PARTICIPANTS_REMOVED, PROMOTED, DEMOTED.
// found says g was stored before; first is how a group seen for the first
// time came (CREATED or JOINED). Comparing with what is stored, rather
// than trusting what an event says changed, makes a change reported twice
// (by the call that made it and by WhatsApp's notice of it) log once.
func apply(g *apiws.Group, self string, found bool, info whatsapp.GroupInfo, first apiws.GroupChange, at time.Time) []*apiws.LogEvent {
	before := *g
	g.Name, g.Topic, g.UpdatedAt = info.Name, apiws.NilIfEmpty(info.Topic), at
	g.Participants = participants(info.Participants)
	if !info.CreatedAt.IsZero() {
		created := info.CreatedAt.UTC()
		g.CreatedAt = &created
	}
	g.Role = nil
	if info.Role != "" {
		role := info.Role
		g.Role = &role
	}

	var evs []*apiws.LogEvent
	add := func(c apiws.GroupChange, about []apiws.Peer) {
		evs = append(evs, event(g, c, about, at))
	}
	switch {
	case !found:
		if g.Role != nil {
			add(first, nil)
		}
		return evs
	case before.Role == nil && g.Role != nil:
		add(apiws.GroupJoined, nil)
	}
	if before.Name != g.Name {
		add(apiws.GroupName, nil)
	}
	if deref(before.Topic) != deref(g.Topic) {
		add(apiws.GroupTopic, nil)
	}
	added, removed, promoted, demoted := compare(before.Participants, g.Participants, self)
	for _, d := range []struct {
		change apiws.GroupChange
		peers  []apiws.Peer
	}{{apiws.GroupParticipantsAdded, added}, {apiws.GroupParticipantsRemoved, removed}, {apiws.GroupPromoted, promoted}, {apiws.GroupDemoted, demoted}} {
		if len(d.peers) > 0 {
			add(d.change, d.peers)
		}
	}
	if before.Role != nil && g.Role == nil {
		add(apiws.GroupLeft, nil)
	}
	return evs
}

// leave marks g left and returns its LEFT event, if it was not already.
// The participants stay as last seen: the number sees no more of them.
func leave(g *apiws.Group, at time.Time) []*apiws.LogEvent {
	if g.Role == nil {
		return nil
	}
	g.Role, g.UpdatedAt = nil, at
	return []*apiws.LogEvent{event(g, apiws.GroupLeft, nil, at)}
}

// event is the GROUP_UPDATED event of a change of g, which carries a copy
// of g as it is now.
func event(g *apiws.Group, c apiws.GroupChange, about []apiws.Peer, at time.Time) *apiws.LogEvent {
	snapshot := *g
	return &apiws.LogEvent{AccountID: g.AccountID, Type: apiws.EventTypeGroupUpdated, NumberID: g.NumberID, At: at,
		Detail: &apiws.EventDetail{GroupDetail: apiws.GroupDetail{Group: &snapshot, GroupChange: c, Participants: about}}}
}

func participants(ps []apiws.GroupParticipant) []*apiws.GroupParticipant {
	out := make([]*apiws.GroupParticipant, len(ps))
	for i := range ps {
		p := ps[i]
		out[i] = &p
	}
	return out
}

// rank orders roles, so a change of role is a promotion or a demotion.
func rank(r apiws.GroupRole) int {
	switch r {
	case apiws.RoleAdmin:
		return 1
	case apiws.RoleSuperAdmin:
		return 2
	}
	return 0
}

// compare finds who joined, left, rose and fell between two lists of
// participants. A participant is the same one when its phone or its LID
// is. The number itself (its phone is self) arriving or departing is
// JOINED or LEFT, not a participant change.
func compare(before, after []*apiws.GroupParticipant, self string) (added, removed, promoted, demoted []apiws.Peer) {
	bPhone, bLID := index(before)
	aPhone, aLID := index(after)
	for _, p := range after {
		old := find(p, bPhone, bLID)
		switch {
		case old == nil:
			if deref(p.Peer.Phone) != self {
				added = append(added, p.Peer)
			}
		case rank(p.Role) > rank(old.Role):
			promoted = append(promoted, p.Peer)
		case rank(p.Role) < rank(old.Role):
			demoted = append(demoted, p.Peer)
		}
	}
	for _, p := range before {
		if find(p, aPhone, aLID) == nil && deref(p.Peer.Phone) != self {
			removed = append(removed, p.Peer)
		}
	}
	return added, removed, promoted, demoted
}

// index maps participants by phone and by LID.
func index(ps []*apiws.GroupParticipant) (byPhone, byLID map[string]*apiws.GroupParticipant) {
	byPhone, byLID = map[string]*apiws.GroupParticipant{}, map[string]*apiws.GroupParticipant{}
	for _, p := range ps {
		if p.Peer.Phone != nil {
			byPhone[*p.Peer.Phone] = p
		}
		if p.Peer.LID != nil {
			byLID[*p.Peer.LID] = p
		}
	}
	return byPhone, byLID
}

// find is p among the indexed participants, or nil.
func find(p *apiws.GroupParticipant, byPhone, byLID map[string]*apiws.GroupParticipant) *apiws.GroupParticipant {
	if p.Peer.Phone != nil && byPhone[*p.Peer.Phone] != nil {
		return byPhone[*p.Peer.Phone]
	}
	if p.Peer.LID != nil {
		return byLID[*p.Peer.LID]
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
