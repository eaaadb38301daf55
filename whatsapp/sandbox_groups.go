package whatsapp

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apiws/apiws"
)

// The sandbox's groups (DESIGN.md, "Sandbox, continued"):
//
//   - every paired number is a MEMBER of its own "Sandbox Group", with
//     +15550100001..3 as MEMBERs;
//   - CreateGroup makes the number SUPERADMIN and adds every phone except
//     those ending 0000;
//   - invite links are https://chat.whatsapp.com/SANDBOX + 16 letters, and
//     JoinGroup takes any such link (a group of this process, or a new one
//     run by +15550100001);
//   - a message to a group is DELIVERED (once to all) after 500 ms and READ
//     1 s later; a text containing "echo" is answered in the group by
//     +15550100001 with the same text.
//
// Groups live in the process, shared by its sandbox numbers, whose phones
// are members: a change one number makes is reported to the others.

// sandboxEchoer is the sandbox participant who answers "echo" in groups.
const sandboxEchoer = "+15550100001"

// sandboxLinkCode starts the code of every sandbox invite link.
const sandboxLinkCode = "SANDBOX"

type sandboxGroup struct {
	jid, name, topic, link string
	created                time.Time
	// phones are the members in the order they joined; roles their roles.
	phones []string
	roles  map[string]apiws.GroupRole
}

func newSandboxGroup(jid, name string) *sandboxGroup {
	return &sandboxGroup{jid: jid, name: name, created: time.Now().UTC().Truncate(time.Second), roles: map[string]apiws.GroupRole{}}
}

func (g *sandboxGroup) add(phone string, role apiws.GroupRole) bool {
	if _, in := g.roles[phone]; in {
		return false
	}
	g.phones = append(g.phones, phone)
	g.roles[phone] = role
	return true
}

func (g *sandboxGroup) remove(phone string) bool {
	if _, in := g.roles[phone]; !in {
		return false
	}
	delete(g.roles, phone)
	g.phones = slices.DeleteFunc(g.phones, func(p string) bool { return p == phone })
	return true
}

// info is g as member phone sees it.
func (g *sandboxGroup) info(phone string) GroupInfo {
	in := GroupInfo{JID: g.jid, Name: g.name, Topic: g.topic, Role: g.roles[phone], CreatedAt: g.created,
		Participants: make([]apiws.GroupParticipant, len(g.phones))}
	for i, p := range g.phones {
		lid := SandboxLID(p)
		in.Participants[i] = apiws.GroupParticipant{Peer: apiws.Peer{Phone: &p, LID: &lid}, Role: g.roles[p]}
	}
	return in
}

// groupJIDOf is a group JID made of digits derived from seed.
func groupJIDOf(seed string) string {
	h := sha256.Sum256([]byte(seed))
	return fmt.Sprintf("120363%018d@g.us", binary.BigEndian.Uint64(h[:8])%1e18)
}

// homeGroupLocked returns the number's Sandbox Group, making it at first
// sight. s.mu must be held.
func (s *Sandbox) homeGroupLocked(num *sandboxNumber) {
	jid := groupJIDOf("home:" + num.phone)
	if s.groups == nil {
		s.groups = make(map[string]*sandboxGroup)
	}
	if s.groups[jid] != nil {
		return
	}
	g := newSandboxGroup(jid, "Sandbox Group")
	for _, p := range []string{"+15550100001", "+15550100002", "+15550100003", num.phone} {
		g.add(p, apiws.RoleMember)
	}
	s.groups[jid] = g
}

// memberLocked returns n's sandbox state, connected, and the group jid it
// is in ("" for none). s.mu must be held.
func (s *Sandbox) memberLocked(n *apiws.Number, jid string) (*sandboxNumber, *sandboxGroup, error) {
	if s.closed {
		return nil, nil, ErrClosed
	}
	num := s.numbers[n.ID]
	if num == nil || !num.connected {
		return nil, nil, ErrNotConnected
	}
	s.homeGroupLocked(num)
	if jid == "" {
		return num, nil, nil
	}
	g := s.groups[jid]
	if g == nil || g.roles[num.phone] == "" {
		return nil, nil, ErrGroupNotFound
	}
	return num, g, nil
}

// adminLocked is memberLocked for changes only admins may make.
func (s *Sandbox) adminLocked(n *apiws.Number, jid string) (*sandboxNumber, *sandboxGroup, error) {
	num, g, err := s.memberLocked(n, jid)
	if err == nil && !g.roles[num.phone].IsAdmin() {
		err = ErrNotAdmin
	}
	return num, g, err
}

// Groups returns the groups of this process the number is in, its Sandbox
// Group included.
func (s *Sandbox) Groups(ctx context.Context, n *apiws.Number) ([]GroupInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	num, _, err := s.memberLocked(n, "")
	if err != nil {
		return nil, err
	}
	var out []GroupInfo
	for _, g := range s.groups {
		if g.roles[num.phone] != "" {
			out = append(out, g.info(num.phone))
		}
	}
	slices.SortFunc(out, func(a, b GroupInfo) int { return strings.Compare(a.JID, b.JID) })
	return out, nil
}

// Group returns one group the number is in.
func (s *Sandbox) Group(ctx context.Context, n *apiws.Number, jid string) (GroupInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	num, g, err := s.memberLocked(n, jid)
	if err != nil {
		return GroupInfo{}, err
	}
	return g.info(num.phone), nil
}

// CreateGroup makes a group with the number as SUPERADMIN and every phone
// not ending 0000 as MEMBER.
func (s *Sandbox) CreateGroup(ctx context.Context, n *apiws.Number, name string, phones []string) (GroupInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	num, _, err := s.memberLocked(n, "")
	if err != nil {
		return GroupInfo{}, err
	}
	g := newSandboxGroup(groupJIDOf("new:"+NewMessageID()), name)
	g.add(num.phone, apiws.RoleSuperAdmin)
	var added []string
	for _, p := range phones {
		if !strings.HasSuffix(p, "0000") && g.add(p, apiws.RoleMember) {
			added = append(added, p)
		}
	}
	s.groups[g.jid] = g
	s.notifyLocked(g, n.ID, apiws.GroupJoined, nil, added)
	return g.info(num.phone), nil
}

// SetGroupName renames a group the number is an admin of.
func (s *Sandbox) SetGroupName(ctx context.Context, n *apiws.Number, jid, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, g, err := s.adminLocked(n, jid)
	if err != nil {
		return err
	}
	g.name = name
	s.notifyLocked(g, n.ID, apiws.GroupName, nil, nil)
	return nil
}

// SetGroupTopic sets the topic of a group the number is in: a sandbox
// group's info is not locked to admins.
func (s *Sandbox) SetGroupTopic(ctx context.Context, n *apiws.Number, jid, topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, g, err := s.memberLocked(n, jid)
	if err != nil {
		return err
	}
	g.topic = topic
	s.notifyLocked(g, n.ID, apiws.GroupTopic, nil, nil)
	return nil
}

// UpdateGroupParticipants changes the participants of a group the number
// is an admin of: phones ending 0000 are never added; phones not in the
// group are not removed, promoted or demoted; the super admin stays one.
func (s *Sandbox) UpdateGroupParticipants(ctx context.Context, n *apiws.Number, jid string, action ParticipantAction, phones []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, g, err := s.adminLocked(n, jid)
	if err != nil {
		return err
	}
	var changed []string
	for _, p := range phones {
		role, in := g.roles[p]
		ok := false
		switch action {
		case ParticipantsAdd:
			ok = !strings.HasSuffix(p, "0000") && g.add(p, apiws.RoleMember)
		case ParticipantsRemove:
			ok = in && role != apiws.RoleSuperAdmin && g.remove(p)
		case ParticipantsPromote:
			if ok = in && role == apiws.RoleMember; ok {
				g.roles[p] = apiws.RoleAdmin
			}
		case ParticipantsDemote:
			if ok = in && role == apiws.RoleAdmin; ok {
				g.roles[p] = apiws.RoleMember
			}
		}
		if ok {
			changed = append(changed, p)
		}
	}
	changes := map[ParticipantAction]apiws.GroupChange{ParticipantsAdd: apiws.GroupParticipantsAdded, ParticipantsRemove: apiws.GroupParticipantsRemoved,
		ParticipantsPromote: apiws.GroupPromoted, ParticipantsDemote: apiws.GroupDemoted}
	if len(changed) > 0 {
		s.notifyLocked(g, n.ID, changes[action], changed, changed)
	}
	return nil
}

// LeaveGroup takes the number out of a group.
func (s *Sandbox) LeaveGroup(ctx context.Context, n *apiws.Number, jid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	num, g, err := s.memberLocked(n, jid)
	if err != nil {
		return err
	}
	g.remove(num.phone)
	s.notifyLocked(g, n.ID, apiws.GroupParticipantsRemoved, []string{num.phone}, nil)
	return nil
}

// GroupInviteLink returns the group's SANDBOX link, a new one with reset.
func (s *Sandbox) GroupInviteLink(ctx context.Context, n *apiws.Number, jid string, reset bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, g, err := s.adminLocked(n, jid)
	if err != nil {
		return "", err
	}
	if g.link == "" || reset {
		const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		code := []byte(sandboxLinkCode)
		for range 16 {
			code = append(code, letters[randInt(len(letters))])
		}
		g.link = apiws.GroupLinkPrefix + string(code)
	}
	return g.link, nil
}

// JoinGroup joins the group of any SANDBOX link as MEMBER: the group of
// this process that has the link, or else one run by +15550100001.
func (s *Sandbox) JoinGroup(ctx context.Context, n *apiws.Number, link string) (string, error) {
	code := inviteCode(link)
	if !sandboxLink(code) {
		return "", ErrInviteInvalid
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	num, _, err := s.memberLocked(n, "")
	if err != nil {
		return "", err
	}
	var g *sandboxGroup
	for _, c := range s.groups {
		if c.link == link {
			g = c
		}
	}
	if g == nil {
		jid := groupJIDOf("link:" + code)
		if g = s.groups[jid]; g == nil {
			g = newSandboxGroup(jid, "Sandbox Invite Group")
			g.add(sandboxEchoer, apiws.RoleSuperAdmin)
			g.link = link
			s.groups[jid] = g
		}
	}
	if g.add(num.phone, apiws.RoleMember) {
		s.notifyLocked(g, n.ID, apiws.GroupParticipantsAdded, []string{num.phone}, nil)
	}
	return g.jid, nil
}

// sandboxLink reports whether code is SANDBOX and 16 letters.
func sandboxLink(code string) bool {
	rest, ok := strings.CutPrefix(code, sandboxLinkCode)
	if !ok || len(rest) != 16 {
		return false
	}
	for _, c := range rest {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// notifyLocked tells the other sandbox numbers of this process that are
// (or, for removed, were) members of g about a change one of them made;
// joined are the phones that just joined, who are told JOINED. s.mu must
// be held.
func (s *Sandbox) notifyLocked(g *sandboxGroup, actorID string, change apiws.GroupChange, about, joined []string) {
	peers := make([]apiws.Peer, len(about))
	for i, p := range about {
		peers[i] = apiws.Peer{Phone: &p}
	}
	at := time.Now()
	for id, num := range s.numbers {
		if id == actorID || !num.connected || num.phone == "" {
			continue
		}
		ev := &GroupUpdated{NumberID: id, JID: g.jid, Change: change, Participants: peers, At: at}
		switch {
		case slices.Contains(joined, num.phone):
			ev.Change, ev.Participants = apiws.GroupJoined, nil
		case change == apiws.GroupParticipantsRemoved && slices.Contains(about, num.phone):
			ev.Change, ev.Participants = apiws.GroupLeft, nil
		case g.roles[num.phone] == "":
			continue
		}
		s.goLocked(func() { s.emit(ev) })
	}
}

// sendToGroup simulates a message to a group the number is in.
func (s *Sandbox) sendToGroup(ctx context.Context, n *apiws.Number, msg OutgoingMessage) (SendResult, error) {
	if err := s.wait(ctx, sandboxSendAck); err != nil {
		return SendResult{}, sendErr(CodeTimeout, "send interrupted", true, err)
	}
	s.mu.Lock()
	_, g, err := s.memberLocked(n, msg.Group)
	if err != nil {
		s.mu.Unlock()
		if err == ErrGroupNotFound {
			return SendResult{}, sendErr(CodeSendFailed, "the number is not in the group "+msg.Group, false, err)
		}
		return SendResult{}, sendErr(CodeNotConnected, "number is not connected", true, err)
	}
	t := Transmission{NumberID: n.ID, MessageID: msg.ID, To: msg.Group, Kind: msg.Kind, At: time.Now()}
	s.transmissions = append(s.transmissions, t)
	steps := groupStory(n.ID, msg, g.roles[sandboxEchoer] != "")
	record := s.recorder
	s.mu.Unlock()
	s.recordThenPlay(record, t, steps)
	return SendResult{WAMessageID: msg.ID, At: t.At}, nil
}

// groupStory is what follows a message to a group: DELIVERED once all
// have it, READ once all read it, and, for a text containing "echo" when
// +15550100001 is in the group (echoer), its answer with the same text.
func groupStory(numberID string, msg OutgoingMessage, echoer bool) []sandboxStep {
	if msg.Kind == apiws.KindReaction {
		return nil
	}
	receipt := func(st apiws.MessageStatus) func(time.Time) Event {
		return func(at time.Time) Event {
			return &Receipt{NumberID: numberID, MessageIDs: []string{msg.ID}, Status: st, At: at}
		}
	}
	steps := []sandboxStep{{sandboxDelivered, receipt(apiws.StatusDelivered)}}
	if echoer && msg.Kind == apiws.KindText && strings.Contains(msg.Text, sandboxEchoText) {
		id, lid := NewMessageID(), SandboxLID(sandboxEchoer)
		steps = append(steps, sandboxStep{sandboxEcho, func(at time.Time) Event {
			return &Inbound{NumberID: numberID, WAMessageID: id, From: sandboxEchoer, FromLID: lid, PushName: "Sandbox echo",
				Group: msg.Group, Kind: apiws.KindText, Text: msg.Text, At: at}
		}})
	}
	steps = append(steps, sandboxStep{sandboxDelivered + sandboxRead, receipt(apiws.StatusRead)})
	return steps
}
