package messaging

import (
	"context"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/whatsapp"
)

// Groups finds the group of an inbound group message (package groups):
// stored, or asked of WhatsApp and stored when it is new.
type Groups interface {
	GroupOf(ctx context.Context, n *apiws.Number, jid string) (*apiws.Group, error)
}

// sendGroup is the account's group id, of the number, that the number is
// still in: where a message can go. Anything else is NOT_FOUND at the
// field at.
func (s *Service) sendGroup(ctx context.Context, accountID, numberID, id string, at []string) (*apiws.Group, error) {
	if !apiws.ValidID(id, apiws.PrefixGroup) {
		return nil, apiws.FieldError(apiws.ENOTFOUND, at, "no such group")
	}
	g, err := s.db.Group(ctx, accountID, id)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND || (err == nil && g.NumberID != numberID) {
		return nil, apiws.FieldError(apiws.ENOTFOUND, at, "no such group of this number")
	} else if err != nil {
		return nil, err
	}
	if g.Role == nil {
		return nil, apiws.FieldError(apiws.ENOTFOUND, at, "the number left this group")
	}
	return g, nil
}

// sameChat reports whether q is of the chat a send names: the phone to, or
// group; a send that names neither takes q's chat.
func sameChat(q *apiws.Message, to string, group *apiws.Group) bool {
	switch {
	case group != nil:
		return q.GroupID != nil && *q.GroupID == group.ID
	case to != "":
		return q.GroupID == nil && q.Peer == to
	}
	return true
}

// toGroup sends o to g, when there is one.
func (o *outgoing) toGroup(g *apiws.Group) {
	if g == nil {
		return
	}
	o.to, o.toLID, o.groupID = "", "", &g.ID
	o.body.Group = g.JID
}

// groupOf is the id of the number's group with the JID, for an inbound
// message.
func (s *Service) groupOf(ctx context.Context, n *apiws.Number, jid string) (*string, error) {
	if s.groups == nil {
		return nil, nil
	}
	g, err := s.groups.GroupOf(ctx, n, jid)
	if err != nil {
		return nil, err
	}
	return &g.ID, nil
}

// chatRef names m for the connector (refOf); a group message by its
// group's JID, which the connectors take as its chat.
func (s *Service) chatRef(ctx context.Context, m *apiws.Message) (whatsapp.MessageRef, error) {
	ref := refOf(m)
	if m.GroupID == nil {
		return ref, nil
	}
	g, err := s.db.Group(ctx, m.AccountID, *m.GroupID)
	if err != nil {
		return ref, err
	}
	ref.Chat, ref.ChatLID = g.JID, ""
	return ref, nil
}

// groupJIDs are the JIDs of the groups of ms, by group id.
func (s *Service) groupJIDs(ctx context.Context, accountID string, ms []*apiws.Message) (map[string]string, error) {
	jids := map[string]string{}
	for _, m := range ms {
		if m.GroupID == nil || jids[*m.GroupID] != "" {
			continue
		}
		g, err := s.db.Group(ctx, accountID, *m.GroupID)
		if err != nil {
			return nil, err
		}
		jids[g.ID] = g.JID
	}
	return jids, nil
}
