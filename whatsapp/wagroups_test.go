package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// fakeGroups is WhatsApp's side of the fake client's groups.
type fakeGroups struct {
	byJID map[types.JID]*types.GroupInfo
	// err, when set, is what every group call answers.
	err   error
	calls []string
}

func (f *fakeClient) groupCall(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups.calls = append(f.groups.calls, name)
	return f.groups.err
}

func (f *fakeClient) GetJoinedGroups(ctx context.Context) ([]*types.GroupInfo, error) {
	if err := f.groupCall("joined"); err != nil {
		return nil, err
	}
	var out []*types.GroupInfo
	for _, g := range f.groups.byJID {
		out = append(out, g)
	}
	return out, nil
}
func (f *fakeClient) GetGroupInfo(ctx context.Context, jid types.JID) (*types.GroupInfo, error) {
	if err := f.groupCall("info " + jid.String()); err != nil {
		return nil, err
	}
	if g := f.groups.byJID[jid]; g != nil {
		return g, nil
	}
	return nil, fmt.Errorf("%w: %w", whatsmeow.ErrGroupNotFound, whatsmeow.ErrIQNotFound)
}
func (f *fakeClient) CreateGroup(ctx context.Context, req whatsmeow.ReqCreateGroup) (*types.GroupInfo, error) {
	if err := f.groupCall("create " + req.Name); err != nil {
		return nil, err
	}
	g := &types.GroupInfo{JID: types.NewJID("120363000000000001", types.GroupServer), GroupName: types.GroupName{Name: req.Name}, GroupCreated: testTime,
		Participants: []types.GroupParticipant{{JID: pairedJID.ToNonAD(), PhoneNumber: pairedJID.ToNonAD(), IsAdmin: true, IsSuperAdmin: true}}}
	for _, p := range req.Participants {
		gp := types.GroupParticipant{JID: p, PhoneNumber: p}
		if p.User == "14155550000" {
			gp.Error = 403 // privacy settings refuse
		}
		g.Participants = append(g.Participants, gp)
	}
	if f.groups.byJID == nil {
		f.groups.byJID = map[types.JID]*types.GroupInfo{}
	}
	f.groups.byJID[g.JID] = g
	return g, nil
}
func (f *fakeClient) SetGroupName(ctx context.Context, jid types.JID, name string) error {
	return f.groupCall("name " + name)
}
func (f *fakeClient) SetGroupTopic(ctx context.Context, jid types.JID, previousID, newID, topic string) error {
	return f.groupCall("topic " + topic)
}
func (f *fakeClient) UpdateGroupParticipants(ctx context.Context, jid types.JID, changes []types.JID, action whatsmeow.ParticipantChange) ([]types.GroupParticipant, error) {
	return nil, f.groupCall(fmt.Sprintf("%s %v", action, changes))
}
func (f *fakeClient) LeaveGroup(ctx context.Context, jid types.JID) error {
	return f.groupCall("leave " + jid.String())
}
func (f *fakeClient) GetGroupInviteLink(ctx context.Context, jid types.JID, reset bool) (string, error) {
	if err := f.groupCall(fmt.Sprintf("link %v", reset)); err != nil {
		return "", err
	}
	return whatsmeow.InviteLinkPrefix + "AbCdEf", nil
}
func (f *fakeClient) JoinGroupWithLink(ctx context.Context, code string) (types.JID, error) {
	if err := f.groupCall("join " + code); err != nil {
		return types.EmptyJID, err
	}
	return types.NewJID("120363000000000002", types.GroupServer), nil
}

var (
	groupJID  = types.NewJID("120363025246125486", types.GroupServer)
	memberPN  = types.NewJID("14155550101", types.DefaultUserServer)
	memberLID = types.NewJID("200000000000101", types.HiddenUserServer)
	hiddenLID = types.NewJID("200000000000102", types.HiddenUserServer)
	me        = selfID{phone: "15550123456", lid: "200000000000100"}
)

// testGroup is a group where the number (by LID) is super admin, one
// member is addressed by LID with a phone, one by phone and admin, and
// one hidden whose phone the LID map knows.
func testGroup() *types.GroupInfo {
	return &types.GroupInfo{JID: groupJID, GroupName: types.GroupName{Name: "Team"}, GroupTopic: types.GroupTopic{Topic: "Shifts"}, GroupCreated: testTime,
		AddressingMode: types.AddressingModeLID,
		Participants: []types.GroupParticipant{
			{JID: types.NewJID(me.lid, types.HiddenUserServer), LID: types.NewJID(me.lid, types.HiddenUserServer), IsAdmin: true, IsSuperAdmin: true},
			{JID: memberLID, LID: memberLID, PhoneNumber: memberPN},
			{JID: peerPN, PhoneNumber: peerPN, IsAdmin: true},
			{JID: hiddenLID, LID: hiddenLID},
		}}
}

func lidPhones(j types.JID) string {
	if j.User == hiddenLID.User {
		return "+14155550102"
	}
	return ""
}

func p(s string) *string { return &s }

func TestGroupInfoOf(t *testing.T) {
	got := groupInfoOf(testGroup(), me, lidPhones)
	if got.JID != "120363025246125486@g.us" || got.Name != "Team" || got.Topic != "Shifts" || !got.CreatedAt.Equal(testTime) || got.Role != apiws.RoleSuperAdmin {
		t.Fatalf("group %+v", got)
	}
	want := []apiws.GroupParticipant{
		{Peer: apiws.Peer{Phone: p("+" + me.phone), LID: p(me.lid)}, Role: apiws.RoleSuperAdmin},
		{Peer: apiws.Peer{Phone: p("+14155550101"), LID: p(memberLID.User)}, Role: apiws.RoleMember},
		{Peer: apiws.Peer{Phone: p("+14155552671")}, Role: apiws.RoleAdmin},
		{Peer: apiws.Peer{Phone: p("+14155550102"), LID: p(hiddenLID.User)}, Role: apiws.RoleMember},
	}
	if len(got.Participants) != len(want) {
		t.Fatalf("participants %+v", got.Participants)
	}
	for i, w := range want {
		if g := got.Participants[i]; g.Role != w.Role || deref(g.Peer.Phone) != deref(w.Peer.Phone) || deref(g.Peer.LID) != deref(w.Peer.LID) {
			t.Errorf("participant %d = %v %v %s, want %v %v %s", i, deref(g.Peer.Phone), deref(g.Peer.LID), g.Role, deref(w.Peer.Phone), deref(w.Peer.LID), w.Role)
		}
	}
	// Once it left, the number has no role; a deleted topic reads empty.
	g := testGroup()
	g.Participants = g.Participants[1:]
	g.TopicDeleted = true
	if left := groupInfoOf(g, me, nil); left.Role != "" || left.Topic != "" {
		t.Errorf("after leaving: role %q, topic %q", left.Role, left.Topic)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestGroupError(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{fmt.Errorf("%w: %w", whatsmeow.ErrNotInGroup, whatsmeow.ErrIQForbidden), ErrGroupNotFound},
		{whatsmeow.ErrGroupNotFound, ErrGroupNotFound},
		{whatsmeow.ErrIQNotFound, ErrGroupNotFound},
		{whatsmeow.ErrGroupInviteLinkUnauthorized, ErrNotAdmin},
		{whatsmeow.ErrIQNotAuthorized, ErrNotAdmin},
		{whatsmeow.ErrIQForbidden, ErrNotAdmin},
		{whatsmeow.ErrInviteLinkRevoked, ErrInviteInvalid},
		{whatsmeow.ErrInviteLinkInvalid, ErrInviteInvalid},
		{whatsmeow.ErrNotConnected, ErrNotConnected},
		{whatsmeow.ErrIQDisconnected, ErrNotConnected},
	}
	for _, tt := range tests {
		if got := groupError(tt.err); !errors.Is(got, tt.want) {
			t.Errorf("groupError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	other := errors.New("boom")
	if got := groupError(other); got != other {
		t.Errorf("groupError(other) = %v", got)
	}
}

func TestMapGroupEvent(t *testing.T) {
	joined := &events.JoinedGroup{Reason: "invite", GroupInfo: *testGroup()}
	evs, ok := mapGroupEvent("num_1", joined, me, lidPhones, testTime)
	if !ok || len(evs) != 1 || evs[0].Change != apiws.GroupJoined || evs[0].Info == nil || evs[0].Info.Name != "Team" || evs[0].JID != "120363025246125486@g.us" ||
		!evs[0].At.Equal(testTime) {
		t.Fatalf("joined: %+v", evs)
	}
	created := &events.JoinedGroup{Type: "new", GroupInfo: *testGroup()}
	if evs, _ := mapGroupEvent("num_1", created, me, lidPhones, testTime); evs[0].Change != apiws.GroupCreated {
		t.Errorf("created: %+v", evs[0])
	}

	info := &events.GroupInfo{JID: groupJID, Timestamp: testTime, Name: &types.GroupName{Name: "New"},
		Join:    []types.JID{memberPN, types.NewJID(me.phone, types.DefaultUserServer)},
		Promote: []types.JID{hiddenLID}}
	evs, ok = mapGroupEvent("num_1", info, me, lidPhones, testTime)
	if !ok {
		t.Fatal("group info dropped")
	}
	var got []string
	for _, ev := range evs {
		s := string(ev.Change)
		for _, pp := range ev.Participants {
			s += " " + deref(pp.Phone) + "/" + deref(pp.LID)
		}
		got = append(got, s)
		if !ev.At.Equal(testTime) || ev.NumberID != "num_1" || ev.JID != "120363025246125486@g.us" {
			t.Errorf("event %+v", ev)
		}
	}
	want := []string{"NAME", "JOINED", "PARTICIPANTS_ADDED +14155550101/<nil>", "PROMOTED +14155550102/" + hiddenLID.User}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	left := &events.GroupInfo{JID: groupJID, Leave: []types.JID{types.NewJID(me.lid, types.HiddenUserServer)}}
	if evs, _ := mapGroupEvent("num_1", left, me, nil, testTime); len(evs) != 1 || evs[0].Change != apiws.GroupLeft {
		t.Errorf("left: %+v", evs)
	}
	if _, ok := mapGroupEvent("num_1", &events.GroupInfo{JID: groupJID, Locked: &types.GroupLocked{IsLocked: true}}, me, nil, testTime); ok {
		t.Error("a change apiws does not report was mapped")
	}
	if _, ok := mapGroupEvent("num_1", &events.Connected{}, me, nil, testTime); ok {
		t.Error("not a group event, mapped")
	}
}

func TestMapGroupMessage(t *testing.T) {
	src := types.MessageSource{Chat: groupJID, Sender: memberLID, SenderAlt: memberPN, IsGroup: true, AddressingMode: types.AddressingModeLID}
	msg := func(m *waE2E.Message) *events.Message {
		return &events.Message{Info: types.MessageInfo{MessageSource: src, ID: "3EB0G", PushName: "Ann", Timestamp: testTime}, Message: m}
	}
	// A sender's first message to a group carries its keys too.
	ev, ok := mapMessage("num_1", msg(&waE2E.Message{Conversation: proto.String("hello group"),
		SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{GroupID: proto.String(groupJID.String())}}), messageEnv{})
	in, _ := ev.(*Inbound)
	if !ok || in == nil || in.Group != "120363025246125486@g.us" || in.From != "+14155550101" || in.FromLID != memberLID.User || in.Text != "hello group" {
		t.Fatalf("group message = %+v, %v", ev, ok)
	}
	if _, ok := mapMessage("num_1", msg(&waE2E.Message{SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{GroupID: proto.String("g")}}), messageEnv{}); ok {
		t.Error("keys alone were mapped")
	}
	direct, _ := mapMessage("num_1", &events.Message{Info: types.MessageInfo{MessageSource: types.MessageSource{Chat: peerPN, Sender: peerPN}, ID: "3EB0D"},
		Message: &waE2E.Message{Conversation: proto.String("x")}}, messageEnv{})
	if d, _ := direct.(*Inbound); d == nil || d.Group != "" {
		t.Errorf("one-to-one message %+v", direct)
	}
	broadcast := types.MessageSource{Chat: types.NewJID("status", types.BroadcastServer), Sender: peerPN}
	if _, ok := mapMessage("num_1", &events.Message{Info: types.MessageInfo{MessageSource: broadcast, ID: "3EB0B"}, Message: &waE2E.Message{Conversation: proto.String("x")}}, messageEnv{}); ok {
		t.Error("a status broadcast was mapped")
	}
}

func TestGroupTally(t *testing.T) {
	tally := newGroupTally(testGroup(), me, testTime)
	steps := []struct {
		from   types.JID
		status apiws.MessageStatus
		want   apiws.MessageStatus
	}{
		{memberLID, apiws.StatusDelivered, ""},
		{memberPN, apiws.StatusDelivered, ""}, // the same participant by phone
		{peerPN, apiws.StatusRead, ""},
		{types.NewJID(me.lid, types.HiddenUserServer), apiws.StatusRead, ""}, // not expected: the number itself
		{hiddenLID, apiws.StatusDelivered, apiws.StatusDelivered},
		{hiddenLID, apiws.StatusRead, ""},
		{memberPN, apiws.StatusRead, apiws.StatusRead},
		{memberPN, apiws.StatusRead, ""},
	}
	for i, st := range steps {
		got, moved := tally.apply(st.from, st.status)
		if got != st.want || moved != (st.want != "") {
			t.Errorf("step %d: %s from %v gives %q, %v; want %q", i, st.status, st.from, got, moved, st.want)
		}
	}
	if !tally.done() {
		t.Error("tally not done after READ")
	}
}

func TestWhatsmeowGroups(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	fc.device.LID = types.NewJID(me.lid, types.HiddenUserServer)
	fc.groups.byJID = map[types.JID]*types.GroupInfo{groupJID: testGroup()}

	gs, err := h.w.Groups(ctx, n)
	if err != nil || len(gs) != 1 || gs[0].Name != "Team" || gs[0].Role != apiws.RoleSuperAdmin {
		t.Fatalf("Groups = %+v, %v", gs, err)
	}
	created, err := h.w.CreateGroup(ctx, n, "Shop", []string{"+14155550101", "+14155550000"})
	if err != nil || created.Role != apiws.RoleSuperAdmin || len(created.Participants) != 2 {
		t.Fatalf("CreateGroup = %+v, %v", created, err)
	}
	if _, err := h.w.Group(ctx, n, "120363999@g.us"); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("Group of an unknown group: %v", err)
	}
	if _, err := h.w.Group(ctx, n, "14155550101@s.whatsapp.net"); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("Group of a user JID: %v", err)
	}
	jid := groupJID.String()
	if err := h.w.SetGroupName(ctx, n, jid, "Team 2"); err != nil {
		t.Fatal(err)
	}
	if err := h.w.UpdateGroupParticipants(ctx, n, jid, ParticipantsPromote, []string{"+14155550101"}); err != nil {
		t.Fatal(err)
	}
	if link, err := h.w.GroupInviteLink(ctx, n, jid, true); err != nil || link != "https://chat.whatsapp.com/AbCdEf" {
		t.Fatalf("GroupInviteLink = %q, %v", link, err)
	}
	if got, err := h.w.JoinGroup(ctx, n, "https://chat.whatsapp.com/XyZ"); err != nil || got != "120363000000000002@g.us" {
		t.Fatalf("JoinGroup = %q, %v", got, err)
	}
	if _, err := h.w.JoinGroup(ctx, n, "https://example.com/XyZ"); !errors.Is(err, ErrInviteInvalid) {
		t.Errorf("JoinGroup of another link: %v", err)
	}
	wantCalls := []string{"joined", "create Shop", "info 120363999@g.us", "name Team 2", "promote [14155550101@s.whatsapp.net]", "link true", "join XyZ"}
	if !slices.Equal(fc.groups.calls, wantCalls) {
		t.Errorf("calls %q, want %q", fc.groups.calls, wantCalls)
	}
	fc.groups.err = whatsmeow.ErrIQForbidden
	if err := h.w.SetGroupTopic(ctx, n, jid, "x"); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("topic as a non-admin: %v", err)
	}
	fc.groups.err = nil

	// A message to the group goes to its JID; its status is the tally of
	// the participants' receipts.
	msg := OutgoingMessage{ID: NewMessageID(), Group: jid, Kind: apiws.KindText, Text: "hi all"}
	if _, err := h.w.Send(ctx, n, msg); err != nil {
		t.Fatal(err)
	}
	if to := fc.sent[len(fc.sent)-1].to; to != groupJID {
		t.Fatalf("sent to %v", to)
	}
	receipt := func(from types.JID, typ types.ReceiptType) {
		fc.emit(&events.Receipt{MessageSource: types.MessageSource{Chat: groupJID, Sender: from, IsGroup: true},
			MessageIDs: []types.MessageID{types.MessageID(msg.ID)}, Type: typ, Timestamp: testTime.Add(time.Second)})
	}
	receipt(memberLID, types.ReceiptTypeDelivered)
	receipt(peerPN, types.ReceiptTypeDelivered)
	if st := h.rec.statuses(msg.ID); len(st) != 0 {
		t.Fatalf("statuses before all have it: %v", st)
	}
	receipt(hiddenLID, types.ReceiptTypeDelivered)
	receipt(memberLID, types.ReceiptTypeRead)
	receipt(peerPN, types.ReceiptTypeRead)
	receipt(hiddenLID, types.ReceiptTypeRead)
	if st := h.rec.statuses(msg.ID); !slices.Equal(st, []apiws.MessageStatus{apiws.StatusDelivered, apiws.StatusRead}) {
		t.Fatalf("statuses %v, want DELIVERED, READ", st)
	}

	fc.emit(&events.GroupInfo{JID: groupJID, Timestamp: testTime, Topic: &types.GroupTopic{Topic: "new"}})
	var topic *GroupUpdated
	for _, ev := range h.rec.all() {
		if gu, ok := ev.(*GroupUpdated); ok {
			topic = gu
		}
	}
	if topic == nil || topic.Change != apiws.GroupTopic || topic.NumberID != n.ID {
		t.Errorf("group event %+v", topic)
	}
	if _, err := h.w.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), Group: "120363999@g.us", Kind: apiws.KindText, Text: "x"}); err == nil {
		t.Error("send to a group the number is not in succeeded")
	} else if se := (*SendError)(nil); !errors.As(err, &se) || se.Retryable {
		t.Errorf("send to a group the number is not in: %v", err)
	}
}

func TestGroupReadReceiptAndPresenceChats(t *testing.T) {
	_, _, chat, sender, err := readArgs(ReadReceipt{IDs: []string{"3EB0G"}, Chat: "+14155550101", Group: groupJID.String()})
	if err != nil || chat != groupJID || sender != memberPN {
		t.Errorf("group read receipt: chat %v, sender %v, %v", chat, sender, err)
	}
	_, _, chat, sender, err = readArgs(ReadReceipt{IDs: []string{"3EB0D"}, Chat: "+14155550101"})
	if err != nil || chat != memberPN || !sender.IsEmpty() {
		t.Errorf("one-to-one read receipt: chat %v, sender %v, %v", chat, sender, err)
	}
	if j, err := chatJID(groupJID.String(), ""); err != nil || j != groupJID {
		t.Errorf("chatJID of a group = %v, %v", j, err)
	}
	if _, err := chatJID("120363@s.whatsapp.net", ""); err == nil {
		t.Error("chatJID took a user JID as a phone")
	}
}
