package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// groupClient is the part of *whatsmeow.Client the group calls use.
type groupClient interface {
	GetJoinedGroups(ctx context.Context) ([]*types.GroupInfo, error)
	GetGroupInfo(ctx context.Context, jid types.JID) (*types.GroupInfo, error)
	CreateGroup(ctx context.Context, req whatsmeow.ReqCreateGroup) (*types.GroupInfo, error)
	SetGroupName(ctx context.Context, jid types.JID, name string) error
	SetGroupTopic(ctx context.Context, jid types.JID, previousID, newID, topic string) error
	UpdateGroupParticipants(ctx context.Context, jid types.JID, participantChanges []types.JID, action whatsmeow.ParticipantChange) ([]types.GroupParticipant, error)
	LeaveGroup(ctx context.Context, jid types.JID) error
	GetGroupInviteLink(ctx context.Context, jid types.JID, reset bool) (string, error)
	JoinGroupWithLink(ctx context.Context, code string) (types.JID, error)
}

// selfID is how a number appears among a group's participants: its phone
// and, once WhatsApp gave it one, its LID.
type selfID struct{ phone, lid string }

// self is the number's own identity, from its device.
func (num *waNumber) self() selfID {
	s := selfID{}
	if id := num.device.ID; id != nil {
		s.phone = id.User
	}
	s.lid = num.device.LID.User
	return s
}

// roleOf is a participant's role.
func roleOf(p types.GroupParticipant) apiws.GroupRole {
	switch {
	case p.IsSuperAdmin:
		return apiws.RoleSuperAdmin
	case p.IsAdmin:
		return apiws.RoleAdmin
	}
	return apiws.RoleMember
}

// peerOf is who a participant (or a JID named in a group event) is: its
// phone from its phone-number JID or the LID map, and its LID.
func peerOf(jids []types.JID, phoneOf phoneResolver) apiws.Peer {
	var phone, lid string
	for _, j := range jids {
		switch {
		case j.User == "":
		case j.Server == types.DefaultUserServer && phone == "":
			phone = "+" + j.User
		case j.Server == types.HiddenUserServer && lid == "":
			lid = j.User
		}
	}
	if phone == "" && lid != "" && phoneOf != nil {
		phone = phoneOf(types.NewJID(lid, types.HiddenUserServer))
	}
	return apiws.Peer{Phone: apiws.NilIfEmpty(phone), LID: apiws.NilIfEmpty(lid)}
}

// groupInfoOf turns whatsmeow's description of a group into a GroupInfo
// as the number me sees it.
func groupInfoOf(g *types.GroupInfo, me selfID, phoneOf phoneResolver) GroupInfo {
	in := GroupInfo{JID: g.JID.ToNonAD().String(), Name: g.Name, Topic: g.Topic, CreatedAt: g.GroupCreated,
		Participants: make([]apiws.GroupParticipant, 0, len(g.Participants))}
	if g.TopicDeleted {
		in.Topic = ""
	}
	for _, p := range g.Participants {
		if p.Error != 0 {
			continue // not added (e.g. 403: their privacy settings refuse)
		}
		peer := peerOf([]types.JID{p.JID, p.PhoneNumber, p.LID}, phoneOf)
		role := roleOf(p)
		if isSelf(peer, me) {
			// The number itself is known by its phone, whatever the
			// group's addressing.
			in.Role = role
			if peer.Phone == nil && me.phone != "" {
				peer.Phone = apiws.NilIfEmpty("+" + me.phone)
			}
		}
		in.Participants = append(in.Participants, apiws.GroupParticipant{Peer: peer, Role: role})
	}
	return in
}

func isSelf(p apiws.Peer, me selfID) bool {
	return (p.Phone != nil && me.phone != "" && *p.Phone == "+"+me.phone) || (p.LID != nil && me.lid != "" && *p.LID == me.lid)
}

// groupError turns whatsmeow's answer to a group call into the Connector's
// errors: not in the group or no such group, not an admin, a bad invite
// link, not connected; anything else is kept as it is.
func groupError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, whatsmeow.ErrNotInGroup), errors.Is(err, whatsmeow.ErrGroupNotFound), errors.Is(err, whatsmeow.ErrIQNotFound):
		return fmt.Errorf("%w: %w", ErrGroupNotFound, err)
	case errors.Is(err, whatsmeow.ErrGroupInviteLinkUnauthorized), errors.Is(err, whatsmeow.ErrIQNotAuthorized), errors.Is(err, whatsmeow.ErrIQForbidden):
		return fmt.Errorf("%w: %w", ErrNotAdmin, err)
	case errors.Is(err, whatsmeow.ErrInviteLinkInvalid), errors.Is(err, whatsmeow.ErrInviteLinkRevoked), errors.Is(err, whatsmeow.ErrIQGone):
		return fmt.Errorf("%w: %w", ErrInviteInvalid, err)
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn), errors.Is(err, whatsmeow.ErrIQDisconnected):
		return fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	return err
}

// parseGroupJID parses a group's JID as apiws keeps it.
func parseGroupJID(jid string) (types.JID, error) {
	j, err := types.ParseJID(jid)
	if err != nil || j.Server != types.GroupServer {
		return types.EmptyJID, fmt.Errorf("%q: %w", jid, ErrGroupNotFound)
	}
	return j, nil
}

// participantActions maps ParticipantAction to whatsmeow's.
var participantActions = map[ParticipantAction]whatsmeow.ParticipantChange{
	ParticipantsAdd: whatsmeow.ParticipantChangeAdd, ParticipantsRemove: whatsmeow.ParticipantChangeRemove,
	ParticipantsPromote: whatsmeow.ParticipantChangePromote, ParticipantsDemote: whatsmeow.ParticipantChangeDemote,
}

// phoneJIDs are the phone-number JIDs of E.164 phones.
func phoneJIDs(phones []string) ([]types.JID, error) {
	out := make([]types.JID, len(phones))
	for i, p := range phones {
		e, err := normalizePhone(p)
		if err != nil {
			return nil, err
		}
		out[i] = types.NewJID(phoneDigits(e), types.DefaultUserServer)
	}
	return out, nil
}

// mapGroupEvent turns whatsmeow's group events into GroupUpdated events,
// one per change it carries; ok is false for every other event. me is the
// number, so that its own join and departure are told as JOINED and LEFT;
// now stamps a join, and a change WhatsApp gave no time.
func mapGroupEvent(numberID string, evt any, me selfID, phoneOf phoneResolver, now time.Time) (out []*GroupUpdated, ok bool) {
	switch e := evt.(type) {
	case *events.JoinedGroup:
		info := groupInfoOf(&e.GroupInfo, me, phoneOf)
		change := apiws.GroupJoined
		if e.Type == "new" && info.Role == apiws.RoleSuperAdmin {
			change = apiws.GroupCreated
		}
		return []*GroupUpdated{{NumberID: numberID, JID: info.JID, Info: &info, Change: change, At: now}}, true
	case *events.GroupInfo:
		jid := e.JID.ToNonAD().String()
		at := e.Timestamp
		if at.IsZero() {
			at = now
		}
		add := func(change apiws.GroupChange, jids []types.JID) {
			ev := &GroupUpdated{NumberID: numberID, JID: jid, Change: change, At: at}
			for _, j := range jids {
				p := peerOf([]types.JID{j}, phoneOf)
				if isSelf(p, me) {
					switch change {
					case apiws.GroupParticipantsAdded:
						out = append(out, &GroupUpdated{NumberID: numberID, JID: jid, Change: apiws.GroupJoined, At: at})
						continue
					case apiws.GroupParticipantsRemoved:
						out = append(out, &GroupUpdated{NumberID: numberID, JID: jid, Change: apiws.GroupLeft, At: at})
						continue
					}
				}
				ev.Participants = append(ev.Participants, p)
			}
			if jids == nil || len(ev.Participants) > 0 {
				out = append(out, ev)
			}
		}
		if e.Name != nil {
			add(apiws.GroupName, nil)
		}
		if e.Topic != nil {
			add(apiws.GroupTopic, nil)
		}
		if len(e.Join) > 0 {
			add(apiws.GroupParticipantsAdded, e.Join)
		}
		if len(e.Leave) > 0 {
			add(apiws.GroupParticipantsRemoved, e.Leave)
		}
		if len(e.Promote) > 0 {
			add(apiws.GroupPromoted, e.Promote)
		}
		if len(e.Demote) > 0 {
			add(apiws.GroupDemoted, e.Demote)
		}
		return out, len(out) > 0
	}
	return nil, false
}

// groupTally follows the receipts of one message sent to a group: WhatsApp
// sends one per participant, and the message is DELIVERED once every
// participant has it, READ once every one read it.
type groupTally struct {
	// who maps each participant's phone and LID (user parts) to its index.
	who       map[string]int
	count     int
	delivered map[int]bool
	read      map[int]bool
	status    apiws.MessageStatus
	sentAt    time.Time
}

// newGroupTally expects a receipt from each participant of g but me.
func newGroupTally(g *types.GroupInfo, me selfID, at time.Time) *groupTally {
	t := &groupTally{who: map[string]int{}, delivered: map[int]bool{}, read: map[int]bool{}, status: apiws.StatusSent, sentAt: at}
	for _, p := range g.Participants {
		peer := peerOf([]types.JID{p.JID, p.PhoneNumber, p.LID}, nil)
		if p.Error != 0 || isSelf(peer, me) {
			continue
		}
		for _, j := range []types.JID{p.JID, p.PhoneNumber, p.LID} {
			if j.User != "" {
				t.who[j.User] = t.count
			}
		}
		t.count++
	}
	return t
}

// apply counts one participant's receipt and returns the status the
// message reached by it for all, if it moved: DELIVERED or READ.
func (t *groupTally) apply(sender types.JID, status apiws.MessageStatus) (apiws.MessageStatus, bool) {
	i, known := t.who[sender.User]
	if !known || t.count == 0 {
		return "", false
	}
	switch status {
	case apiws.StatusRead, apiws.StatusPlayed:
		t.read[i], t.delivered[i] = true, true
	case apiws.StatusDelivered:
		t.delivered[i] = true
	default:
		return "", false
	}
	next := t.status
	if len(t.delivered) == t.count {
		next = apiws.StatusDelivered
	}
	if len(t.read) == t.count {
		next = apiws.StatusRead
	}
	if !t.status.Advances(next) {
		return "", false
	}
	t.status = next
	return next, true
}

// done reports whether the tally has nothing more to tell.
func (t *groupTally) done() bool { return t.status == apiws.StatusRead }

// groupTallies are the tallies of a number's messages to groups, kept in
// memory from the send until READ, or a week: a restart forgets them, and
// the messages then stay at the status they had reached.
type groupTallies struct {
	mu sync.Mutex
	m  map[string]*groupTally // by WhatsApp message id
}

const tallyKeep = 7 * 24 * time.Hour

func (ts *groupTallies) track(id string, t *groupTally, now time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = map[string]*groupTally{}
	}
	for k, old := range ts.m {
		if now.Sub(old.sentAt) > tallyKeep {
			delete(ts.m, k)
		}
	}
	ts.m[id] = t
}

// apply counts a group receipt of whatsmeow and returns the receipts of
// the messages it moved for all.
func (ts *groupTallies) apply(numberID string, evt *events.Receipt) []*Receipt {
	r, ok := mapReceipt(numberID, evt)
	if !ok {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []*Receipt
	for _, id := range r.MessageIDs {
		t := ts.m[id]
		if t == nil {
			continue
		}
		if st, moved := t.apply(evt.Sender, r.Status); moved {
			out = append(out, &Receipt{NumberID: numberID, MessageIDs: []string{id}, Status: st, At: r.At})
		}
		if t.done() {
			delete(ts.m, id)
		}
	}
	return out
}

// groupClientOf returns n's client, connected and logged in.
func (w *Whatsmeow) groupClientOf(n *apiws.Number) (*waNumber, error) {
	num := w.number(n.ID)
	if num == nil || !num.client.IsConnected() || !num.client.IsLoggedIn() {
		return nil, ErrNotConnected
	}
	return num, nil
}

// Groups asks WhatsApp for every group the number is in.
func (w *Whatsmeow) Groups(ctx context.Context, n *apiws.Number) ([]GroupInfo, error) {
	num, err := w.groupClientOf(n)
	if err != nil {
		return nil, err
	}
	gs, err := num.client.GetJoinedGroups(ctx)
	if err != nil {
		return nil, groupError(err)
	}
	out := make([]GroupInfo, len(gs))
	for i, g := range gs {
		out[i] = groupInfoOf(g, num.self(), w.phoneOfLID)
	}
	return out, nil
}

// Group asks WhatsApp for one group.
func (w *Whatsmeow) Group(ctx context.Context, n *apiws.Number, jid string) (GroupInfo, error) {
	num, err := w.groupClientOf(n)
	if err != nil {
		return GroupInfo{}, err
	}
	j, err := parseGroupJID(jid)
	if err != nil {
		return GroupInfo{}, err
	}
	g, err := num.client.GetGroupInfo(ctx, j)
	if err != nil {
		return GroupInfo{}, groupError(err)
	}
	return groupInfoOf(g, num.self(), w.phoneOfLID), nil
}

// CreateGroup creates a group on WhatsApp.
func (w *Whatsmeow) CreateGroup(ctx context.Context, n *apiws.Number, name string, phones []string) (GroupInfo, error) {
	num, err := w.groupClientOf(n)
	if err != nil {
		return GroupInfo{}, err
	}
	jids, err := phoneJIDs(phones)
	if err != nil {
		return GroupInfo{}, err
	}
	g, err := num.client.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: name, Participants: jids})
	if err != nil {
		return GroupInfo{}, groupError(err)
	}
	return groupInfoOf(g, num.self(), w.phoneOfLID), nil
}

// SetGroupName renames a group.
func (w *Whatsmeow) SetGroupName(ctx context.Context, n *apiws.Number, jid, name string) error {
	return w.onGroup(n, jid, func(num *waNumber, j types.JID) error { return num.client.SetGroupName(ctx, j, name) })
}

// SetGroupTopic sets a group's topic; whatsmeow finds the previous topic's
// id itself.
func (w *Whatsmeow) SetGroupTopic(ctx context.Context, n *apiws.Number, jid, topic string) error {
	return w.onGroup(n, jid, func(num *waNumber, j types.JID) error { return num.client.SetGroupTopic(ctx, j, "", "", topic) })
}

// UpdateGroupParticipants changes a group's participants.
func (w *Whatsmeow) UpdateGroupParticipants(ctx context.Context, n *apiws.Number, jid string, action ParticipantAction, phones []string) error {
	jids, err := phoneJIDs(phones)
	if err != nil {
		return err
	}
	change, ok := participantActions[action]
	if !ok {
		return fmt.Errorf("unknown participant action %q", action)
	}
	return w.onGroup(n, jid, func(num *waNumber, j types.JID) error {
		_, err := num.client.UpdateGroupParticipants(ctx, j, jids, change)
		return err
	})
}

// LeaveGroup leaves a group.
func (w *Whatsmeow) LeaveGroup(ctx context.Context, n *apiws.Number, jid string) error {
	return w.onGroup(n, jid, func(num *waNumber, j types.JID) error { return num.client.LeaveGroup(ctx, j) })
}

// GroupInviteLink asks WhatsApp for a group's invite link.
func (w *Whatsmeow) GroupInviteLink(ctx context.Context, n *apiws.Number, jid string, reset bool) (string, error) {
	var link string
	err := w.onGroup(n, jid, func(num *waNumber, j types.JID) (err error) {
		link, err = num.client.GetGroupInviteLink(ctx, j, reset)
		return err
	})
	return link, err
}

// JoinGroup joins the group of an invite link.
func (w *Whatsmeow) JoinGroup(ctx context.Context, n *apiws.Number, link string) (string, error) {
	code := inviteCode(link)
	if code == "" {
		return "", ErrInviteInvalid
	}
	num, err := w.groupClientOf(n)
	if err != nil {
		return "", err
	}
	j, err := num.client.JoinGroupWithLink(ctx, code)
	if err != nil {
		return "", groupError(err)
	}
	return j.ToNonAD().String(), nil
}

// onGroup runs call with n's client and the group's JID, and maps its
// error.
func (w *Whatsmeow) onGroup(n *apiws.Number, jid string, call func(*waNumber, types.JID) error) error {
	num, err := w.groupClientOf(n)
	if err != nil {
		return err
	}
	j, err := parseGroupJID(jid)
	if err != nil {
		return err
	}
	return groupError(call(num, j))
}

// groupChat is where a message to a group goes; it starts the tally of its
// receipts from the group's participants.
func (w *Whatsmeow) groupChat(ctx context.Context, num *waNumber, msg OutgoingMessage) (types.JID, error) {
	j, err := parseGroupJID(msg.Group)
	if err != nil {
		return types.EmptyJID, sendErr(CodeSendFailed, "not a group: "+msg.Group, false, err)
	}
	g, err := num.client.GetGroupInfo(ctx, j)
	if err != nil {
		if err = groupError(err); errors.Is(err, ErrGroupNotFound) {
			return types.EmptyJID, sendErr(CodeSendFailed, "the number is not in the group "+msg.Group, false, err)
		}
		return types.EmptyJID, mapSendError(err)
	}
	num.tallies.track(msg.ID, newGroupTally(g, num.self(), w.now()), w.now())
	return j, nil
}

// groupEvent hands on the GroupUpdated events of a whatsmeow group event.
func (w *Whatsmeow) groupEvent(numberID string, num *waNumber, evt any) {
	if evs, ok := mapGroupEvent(numberID, evt, num.self(), w.phoneOfLID, w.now()); ok {
		for _, ev := range evs {
			w.emit(ev)
		}
	}
}

// groupReceipt counts a participant's receipt of a message to a group.
func (w *Whatsmeow) groupReceipt(numberID string, num *waNumber, evt *events.Receipt) {
	for _, r := range num.tallies.apply(numberID, evt) {
		w.emit(r)
	}
}

// isGroupChat says whether a message is of a group (see wagroups.go).
func isGroupChat(src types.MessageSource) bool {
	return src.IsGroup && src.Chat.Server == types.GroupServer
}

// keysOnly says whether msg carries nothing but a group's sender keys: the
// first message of a sender to a group carries its keys along with its
// content, later ones the content alone.
func keysOnly(msg *waE2E.Message) bool {
	if msg.SenderKeyDistributionMessage == nil {
		return false
	}
	rest := proto.Clone(msg).(*waE2E.Message)
	rest.SenderKeyDistributionMessage, rest.MessageContextInfo = nil, nil
	return proto.Size(rest) == 0
}
