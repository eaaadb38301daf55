package groups

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/whatsapp"
)

const self = "+15550100099"

func peer(phone string) apiws.Peer { return apiws.Peer{Phone: &phone} }

func member(phone string, role apiws.GroupRole) apiws.GroupParticipant {
	return apiws.GroupParticipant{Peer: peer(phone), Role: role}
}

// info is a group as WhatsApp tells it, the number being a member with
// role (none: not a member).
func info(name, topic string, role apiws.GroupRole, ps ...apiws.GroupParticipant) whatsapp.GroupInfo {
	if role != "" {
		ps = append([]apiws.GroupParticipant{member(self, role)}, ps...)
	}
	return whatsapp.GroupInfo{JID: "1@g.us", Name: name, Topic: topic, Role: role, Participants: ps}
}

// changes renders events as "CHANGE phone,phone".
func changes(evs []*apiws.LogEvent) []string {
	var out []string
	for _, ev := range evs {
		gu := apiws.GroupUpdatedEvent{LogEvent: ev}
		var phones []string
		for _, p := range gu.Participants() {
			phones = append(phones, *p.Phone)
		}
		out = append(out, strings.TrimSpace(string(gu.Change())+" "+strings.Join(phones, ",")))
	}
	return out
}

var applyTests = []struct {
	name   string
	before *whatsapp.GroupInfo // nil: not stored yet
	first  apiws.GroupChange
	after  whatsapp.GroupInfo
	want   []string
}{
	{"created", nil, apiws.GroupCreated, info("Shop", "", apiws.RoleSuperAdmin, member("+14155550101", apiws.RoleMember)), []string{"CREATED"}},
	{"joined", nil, apiws.GroupJoined, info("Team", "", apiws.RoleMember), []string{"JOINED"}},
	{"first seen without the number: nothing", nil, apiws.GroupJoined, info("Team", "", ""), nil},
	{"nothing changed", ptr(info("Team", "x", apiws.RoleMember, member("+1", apiws.RoleMember))), apiws.GroupJoined,
		info("Team", "x", apiws.RoleMember, member("+1", apiws.RoleMember)), nil},
	{"name and topic", ptr(info("Team", "", apiws.RoleMember)), apiws.GroupJoined, info("Team 2", "Shifts", apiws.RoleMember), []string{"NAME", "TOPIC"}},
	{"participants", ptr(info("T", "", apiws.RoleAdmin, member("+1", apiws.RoleMember), member("+2", apiws.RoleAdmin), member("+3", apiws.RoleMember))), apiws.GroupJoined,
		info("T", "", apiws.RoleAdmin, member("+1", apiws.RoleAdmin), member("+2", apiws.RoleMember), member("+4", apiws.RoleMember), member("+5", apiws.RoleMember)),
		[]string{"PARTICIPANTS_ADDED +4,+5", "PARTICIPANTS_REMOVED +3", "PROMOTED +1", "DEMOTED +2"}},
	{"the number promoted", ptr(info("T", "", apiws.RoleMember)), apiws.GroupJoined, info("T", "", apiws.RoleAdmin), []string{"PROMOTED " + self}},
	{"the number left", ptr(info("T", "", apiws.RoleMember, member("+1", apiws.RoleMember))), apiws.GroupJoined, info("T", "", "", member("+1", apiws.RoleMember)), []string{"LEFT"}},
	{"the number back", ptr(info("T", "", "", member("+1", apiws.RoleMember))), apiws.GroupJoined, info("T", "", apiws.RoleMember, member("+1", apiws.RoleMember)), []string{"JOINED"}},
}

func ptr[T any](v T) *T { return &v }

func TestApply(t *testing.T) {
	at := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	for _, tt := range applyTests {
		t.Run(tt.name, func(t *testing.T) {
			g := &apiws.Group{ID: "grp_1", AccountID: "acc_1", NumberID: "num_1", JID: "1@g.us"}
			if tt.before != nil {
				apply(g, self, false, *tt.before, apiws.GroupJoined, at.Add(-time.Hour))
			}
			evs := apply(g, self, tt.before != nil, tt.after, tt.first, at)
			if got := changes(evs); !slices.Equal(got, tt.want) {
				t.Errorf("changes %q, want %q", got, tt.want)
			}
			if g.Name != tt.after.Name || (tt.after.Role == "") != (g.Role == nil) || len(g.Participants) != len(tt.after.Participants) || !g.UpdatedAt.Equal(at) {
				t.Errorf("group after %+v", g)
			}
			for _, ev := range evs {
				if ev.Type != apiws.EventTypeGroupUpdated || ev.AccountID != "acc_1" || ev.NumberID != "num_1" || !ev.At.Equal(at) ||
					ev.Detail.Group == nil || ev.Detail.Group.Name != tt.after.Name {
					t.Errorf("event %+v", ev)
				}
			}
		})
	}
}

func TestSamePeerByPhoneOrLID(t *testing.T) {
	lid := "200000000000101"
	// First seen by LID alone, then with its phone: the same participant.
	before := info("T", "", apiws.RoleAdmin, apiws.GroupParticipant{Peer: apiws.Peer{LID: &lid}, Role: apiws.RoleMember})
	phone := "+14155550101"
	after := info("T", "", apiws.RoleAdmin, apiws.GroupParticipant{Peer: apiws.Peer{Phone: &phone, LID: &lid}, Role: apiws.RoleMember})
	g := &apiws.Group{}
	apply(g, self, false, before, apiws.GroupJoined, time.Now())
	if evs := apply(g, self, true, after, apiws.GroupJoined, time.Now()); len(evs) != 0 {
		t.Errorf("changes %q", changes(evs))
	}
}

func TestLeave(t *testing.T) {
	role := apiws.RoleMember
	g := &apiws.Group{AccountID: "acc_1", Role: &role}
	if got := changes(leave(g, time.Now())); !slices.Equal(got, []string{"LEFT"}) || g.Role != nil {
		t.Errorf("leave: %q, role %v", got, g.Role)
	}
	if evs := leave(g, time.Now()); len(evs) != 0 {
		t.Errorf("leaving again: %q", changes(evs))
	}
}

func TestValidPhones(t *testing.T) {
	got, errs := validPhones([]string{"+1 415 555 0101", "+14155550101", "12", "+14155550102"}, []string{"input", "add"})
	if !slices.Equal(got, []string{"+14155550101", "+14155550102"}) {
		t.Errorf("phones %q", got)
	}
	if len(errs) != 1 || errs[0].Code != apiws.EINVALID || strings.Join(errs[0].Field, ".") != "input.add.2" {
		t.Errorf("errors %+v", errs)
	}
	if _, err := validName(strings.Repeat("é", apiws.MaxGroupName), nil); err != nil {
		t.Errorf("a name of 100 characters: %v", err)
	}
	for _, bad := range []string{"", "   ", strings.Repeat("x", apiws.MaxGroupName+1)} {
		if _, err := validName(bad, []string{"input", "name"}); err == nil || err.Code != apiws.EINVALID {
			t.Errorf("validName(%q) = %v", bad, err)
		}
	}
}
