package whatsapp

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"

	"github.com/apiws/apiws"
	"go.uber.org/goleak"
)

// roles lists a group's participants as "phone:ROLE".
func roles(g GroupInfo) []string {
	var out []string
	for _, p := range g.Participants {
		out = append(out, *p.Peer.Phone+":"+string(p.Role))
	}
	return out
}

func TestSandboxGroups(t *testing.T) {
	defer goleak.VerifyNone(t)
	var rec recorder
	s := NewSandbox(rec.handle, 0)
	defer s.Close()
	ctx := context.Background()
	a, b := pairSandbox(t, s, "num_a"), pairSandbox(t, s, "num_b")

	gs, err := s.Groups(ctx, a)
	if err != nil || len(gs) != 1 {
		t.Fatalf("Groups = %+v, %v", gs, err)
	}
	home := gs[0]
	want := []string{"+15550100001:MEMBER", "+15550100002:MEMBER", "+15550100003:MEMBER", *a.Phone + ":MEMBER"}
	if home.Name != "Sandbox Group" || home.Role != apiws.RoleMember || !slices.Equal(roles(home), want) || !regexp.MustCompile(`^\d+@g\.us$`).MatchString(home.JID) {
		t.Fatalf("home group %+v (%v)", home, roles(home))
	}
	// Members are not admins.
	if err := s.SetGroupName(ctx, a, home.JID, "x"); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("rename as member: %v", err)
	}
	if _, err := s.GroupInviteLink(ctx, a, home.JID, false); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("invite link as member: %v", err)
	}
	if err := s.UpdateGroupParticipants(ctx, a, home.JID, ParticipantsAdd, []string{"+14155550101"}); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("add as member: %v", err)
	}
	if _, err := s.Group(ctx, b, home.JID); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("another number's home group: %v", err)
	}

	g, err := s.CreateGroup(ctx, a, "Shop", []string{"+14155550101", "+14155550000", *b.Phone})
	if err != nil || g.Role != apiws.RoleSuperAdmin {
		t.Fatalf("CreateGroup = %+v, %v", g, err)
	}
	if got, want := roles(g), []string{*a.Phone + ":SUPERADMIN", "+14155550101:MEMBER", *b.Phone + ":MEMBER"}; !slices.Equal(got, want) {
		t.Errorf("created with %v, want %v", got, want)
	}
	if err := s.UpdateGroupParticipants(ctx, a, g.JID, ParticipantsPromote, []string{"+14155550101", "+19999999999"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGroupName(ctx, a, g.JID, "Shop 2"); err != nil {
		t.Fatal(err)
	}
	link, err := s.GroupInviteLink(ctx, a, g.JID, false)
	if err != nil || !regexp.MustCompile(`^https://chat\.whatsapp\.com/SANDBOX[A-Za-z]{16}$`).MatchString(link) {
		t.Fatalf("GroupInviteLink = %q, %v", link, err)
	}
	if again, _ := s.GroupInviteLink(ctx, a, g.JID, false); again != link {
		t.Errorf("link changed without reset: %q", again)
	}
	if reset, _ := s.GroupInviteLink(ctx, a, g.JID, true); reset == link {
		t.Error("reset kept the link")
	}
	// b, added at creation, is told it joined; it leaves, and a is told.
	if err := s.LeaveGroup(ctx, b, g.JID); err != nil {
		t.Fatal(err)
	}
	g, _ = s.Group(ctx, a, g.JID)
	if got, want := roles(g), []string{*a.Phone + ":SUPERADMIN", "+14155550101:ADMIN"}; g.Name != "Shop 2" || !slices.Equal(got, want) {
		t.Errorf("after the changes %q %v, want %v", g.Name, got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var told []string
	for _, ev := range rec.all() {
		if gu, ok := ev.(*GroupUpdated); ok {
			told = append(told, gu.NumberID+" "+string(gu.Change))
		}
	}
	// Each is told apart, in no set order.
	slices.Sort(told)
	if wantTold := []string{"num_a PARTICIPANTS_REMOVED", "num_b JOINED", "num_b NAME", "num_b PROMOTED"}; !slices.Equal(told, wantTold) {
		t.Errorf("told %q, want %q", told, wantTold)
	}
}

func TestSandboxJoinGroup(t *testing.T) {
	var rec recorder
	s := NewSandbox(rec.handle, 0)
	defer s.Close()
	ctx := context.Background()
	n := pairSandbox(t, s, "num_a")
	for _, bad := range []string{"https://chat.whatsapp.com/SANDBOXabc", "https://chat.whatsapp.com/OTHERabcdefghijklmnop", "https://example.com/SANDBOXabcdefghijklmnop"} {
		if _, err := s.JoinGroup(ctx, n, bad); !errors.Is(err, ErrInviteInvalid) {
			t.Errorf("JoinGroup(%q) = %v", bad, err)
		}
	}
	jid, err := s.JoinGroup(ctx, n, "https://chat.whatsapp.com/SANDBOXabcdefghijklmnop")
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Group(ctx, n, jid)
	if err != nil || g.Role != apiws.RoleMember || !slices.Contains(roles(g), "+15550100001:SUPERADMIN") {
		t.Fatalf("joined %+v, %v", g, err)
	}
	if again, _ := s.JoinGroup(ctx, n, "https://chat.whatsapp.com/SANDBOXabcdefghijklmnop"); again != jid {
		t.Errorf("the same link joined another group %q", again)
	}
}

func TestSandboxGroupMessages(t *testing.T) {
	var rec recorder
	s := NewSandbox(rec.handle, 0.1)
	defer s.Close()
	ctx := context.Background()
	n := pairSandbox(t, s, "num_a")
	gs, _ := s.Groups(ctx, n)
	msg := OutgoingMessage{ID: NewMessageID(), Group: gs[0].JID, Kind: apiws.KindText, Text: "please echo"}
	if _, err := s.Send(ctx, n, msg); err != nil {
		t.Fatal(err)
	}
	var echo *Inbound
	eventually(t, "the group's receipts and echo", func() bool {
		for _, ev := range rec.all() {
			if in, ok := ev.(*Inbound); ok {
				echo = in
			}
		}
		return len(rec.statuses(msg.ID)) >= 2 && echo != nil
	})
	if st := rec.statuses(msg.ID); !equalStatuses(st, []apiws.MessageStatus{apiws.StatusDelivered, apiws.StatusRead}) {
		t.Errorf("statuses %v", st)
	}
	if echo == nil || echo.Group != gs[0].JID || echo.From != "+15550100001" || echo.Text != "please echo" {
		t.Errorf("echo %+v", echo)
	}
	if _, err := s.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), Group: "120363111@g.us", Kind: apiws.KindText, Text: "x"}); err == nil {
		t.Error("send to a group the number is not in succeeded")
	}
}
