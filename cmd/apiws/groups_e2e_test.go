package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const groupFields = `id jid name topic role createdAt number { id } participants { peer { phone lid } role }`

const (
	numberGroups   = `query($id: ID!) { node(id: $id) { ... on WhatsAppNumber { groups { ` + groupFields + ` } } } }`
	groupNode      = `query($id: ID!) { node(id: $id) { __typename ... on Group { ` + groupFields + ` } } }`
	createGroupM   = `mutation($i: CreateGroupInput!) { createGroup(input: $i) { group { ` + groupFields + ` } userErrors { field code message } } }`
	updateGroupM   = `mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { group { ` + groupFields + ` } userErrors { field code message } } }`
	participantsM  = `mutation($i: GroupParticipantsInput!) { updateGroupParticipants(input: $i) { group { ` + groupFields + ` } userErrors { field code message } } }`
	leaveGroupM    = `mutation($id: ID!) { leaveGroup(id: $id) { group { ` + groupFields + ` } userErrors { field code message } } }`
	inviteLinkM    = `mutation($id: ID!, $reset: Boolean) { groupInviteLink(id: $id, reset: $reset) { link userErrors { field code message } } }`
	joinGroupM     = `mutation($n: ID!, $link: String!) { joinGroup(numberId: $n, link: $link) { group { ` + groupFields + ` } userErrors { field code message } } }`
	groupEventsSub = `subscription($after: Cursor) { events(after: $after, types: [GROUP_UPDATED]) {
  __typename cursor type at numberId
  ... on GroupUpdatedEvent { change participants { phone lid } group { id name role } }
} }`
)

// groupsOf lists a number's groups.
func groupsOf(t *testing.T, base, token, numberID string) []any {
	t.Helper()
	r := gql(t, base, token, numberGroups, map[string]any{"id": numberID})
	gs, ok := get(r.Data, "node", "groups").([]any)
	if !ok {
		t.Fatalf("groups of %s: %+v", numberID, r)
	}
	return gs
}

// members lists a group's participants as "phone:ROLE".
func members(g any) []string {
	var out []string
	ps, _ := get(g, "participants").([]any)
	for _, p := range ps {
		out = append(out, str(p, "peer", "phone")+":"+str(p, "role"))
	}
	return out
}

// groupChanges reads GROUP_UPDATED events from the start of the log until
// n have come, as "CHANGE phone,phone".
func groupChanges(t *testing.T, base, token string, n int) []string {
	t.Helper()
	ws := openWS(t, base, "graphql-transport-ws", token)
	defer ws.close()
	ws.subscribe("g", groupEventsSub, map[string]any{"after": "0"})
	evs := collect(func() map[string]any { return ws.data("g") }, "events", func(evs []map[string]any) bool { return len(evs) >= n })
	var out []string
	for _, e := range evs {
		if str(e, "__typename") != "GroupUpdatedEvent" || str(e, "group", "id") == "" {
			t.Fatalf("event %v", e)
		}
		var phones []string
		ps, _ := get(e, "participants").([]any)
		for _, p := range ps {
			phones = append(phones, str(p, "phone"))
		}
		out = append(out, strings.TrimSpace(str(e, "change")+" "+strings.Join(phones, ",")))
	}
	return out
}

func TestGroupsSandboxRules(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, unlimited(env(t)))
			token, _ := signUp(t, base, "groups-"+name+"@example.com")
			num := connectedNumber(t, base, token)
			phone := str(gql(t, base, token, numberNode, map[string]any{"id": num}).Data, "node", "phone")

			// The number is a member of its Sandbox Group.
			gs := groupsOf(t, base, token, num)
			if len(gs) != 1 {
				t.Fatalf("groups %v", gs)
			}
			home := gs[0]
			wantHome := []string{"+15550100001:MEMBER", "+15550100002:MEMBER", "+15550100003:MEMBER", phone + ":MEMBER"}
			if str(home, "name") != "Sandbox Group" || str(home, "role") != "MEMBER" || !slices.Equal(members(home), wantHome) ||
				!strings.HasPrefix(str(home, "id"), "grp_") || !strings.HasSuffix(str(home, "jid"), "@g.us") || str(home, "number", "id") != num {
				t.Fatalf("sandbox group %v", home)
			}

			// Bad input: a userError, and nothing made.
			bad := []struct {
				name string
				in   map[string]any
				want string
			}{
				{"empty name", map[string]any{"numberId": num, "name": " ", "participants": []string{"+14155550101"}}, "INVALID@input.name"},
				{"long name", map[string]any{"numberId": num, "name": strings.Repeat("n", 101), "participants": []string{"+14155550101"}}, "INVALID@input.name"},
				{"no participants", map[string]any{"numberId": num, "name": "Shop", "participants": []string{}}, "INVALID@input.participants"},
				{"too many participants", map[string]any{"numberId": num, "name": "Shop", "participants": manyPhones(257)}, "INVALID@input.participants"},
				{"invalid phone", map[string]any{"numberId": num, "name": "Shop", "participants": []string{"+14155550101", "12"}}, "INVALID@input.participants.1"},
				{"no such number", map[string]any{"numberId": "num_01JZZZZZZZZZZZZZZZZZZZZZZZ", "name": "Shop", "participants": []string{"+14155550101"}}, "NOT_FOUND@input.numberId"},
			}
			for _, b := range bad {
				r := gql(t, base, token, createGroupM, map[string]any{"i": b.in})
				if got := firstUserError(get(r.Data, "createGroup")); got != b.want || get(r.Data, "createGroup", "group") != nil {
					t.Errorf("createGroup with %s: %q (%+v), want %s", b.name, got, r, b.want)
				}
			}
			if gs := groupsOf(t, base, token, num); len(gs) != 1 {
				t.Fatalf("refused creations made groups: %v", gs)
			}

			// createGroup: the number is SUPERADMIN; 0000 phones are left out.
			r := gql(t, base, token, createGroupM, map[string]any{"i": map[string]any{"numberId": num, "name": "Shop", "participants": []string{"+14155550101", "+14155550000"}}})
			g := get(r.Data, "createGroup", "group")
			if str(g, "role") != "SUPERADMIN" || !slices.Equal(members(g), []string{phone + ":SUPERADMIN", "+14155550101:MEMBER"}) || str(g, "createdAt") == "" {
				t.Fatalf("createGroup = %+v", r)
			}
			gid := str(g, "id")
			if n := gql(t, base, token, groupNode, map[string]any{"id": gid}); str(n.Data, "node", "__typename") != "Group" || str(n.Data, "node", "name") != "Shop" {
				t.Fatalf("node(%s) = %+v", gid, n)
			}

			// Changes by the admin.
			r = gql(t, base, token, updateGroupM, map[string]any{"i": map[string]any{"id": gid, "name": ""}})
			if got := firstUserError(get(r.Data, "updateGroup")); got != "INVALID@input.name" {
				t.Errorf("rename to nothing: %q", got)
			}
			r = gql(t, base, token, updateGroupM, map[string]any{"i": map[string]any{"id": gid, "name": "Shop team", "topic": "Opening hours"}})
			if g := get(r.Data, "updateGroup", "group"); str(g, "name") != "Shop team" || str(g, "topic") != "Opening hours" {
				t.Fatalf("updateGroup = %+v", r)
			}
			r = gql(t, base, token, participantsM, map[string]any{"i": map[string]any{"groupId": gid, "add": []string{"+14155550102", "+14155550000"}, "promote": []string{"+14155550101"}}})
			if g := get(r.Data, "updateGroupParticipants", "group"); !slices.Equal(members(g), []string{phone + ":SUPERADMIN", "+14155550101:ADMIN", "+14155550102:MEMBER"}) {
				t.Fatalf("updateGroupParticipants = %+v", r)
			}
			r = gql(t, base, token, participantsM, map[string]any{"i": map[string]any{"groupId": gid, "remove": []string{"x"}}})
			if got := firstUserError(get(r.Data, "updateGroupParticipants")); got != "INVALID@input.remove.0" {
				t.Errorf("remove an invalid phone: %q", got)
			}
			r = gql(t, base, token, inviteLinkM, map[string]any{"id": gid})
			link := str(r.Data, "groupInviteLink", "link")
			if !regexp.MustCompile(`^https://chat\.whatsapp\.com/SANDBOX[A-Za-z]{16}$`).MatchString(link) {
				t.Fatalf("groupInviteLink = %+v", r)
			}
			if again := str(gql(t, base, token, inviteLinkM, map[string]any{"id": gid, "reset": true}).Data, "groupInviteLink", "link"); again == link || again == "" {
				t.Errorf("reset link %q", again)
			}

			// A member may not rename, change participants or read the link.
			hid := str(home, "id")
			for _, c := range []struct {
				query, field string
				vars         map[string]any
				want         string
			}{
				{updateGroupM, "updateGroup", map[string]any{"i": map[string]any{"id": hid, "name": "Mine"}}, "FORBIDDEN@input.name"},
				{participantsM, "updateGroupParticipants", map[string]any{"i": map[string]any{"groupId": hid, "remove": []string{"+15550100002"}}}, "FORBIDDEN@input.groupId"},
				{inviteLinkM, "groupInviteLink", map[string]any{"id": hid}, "FORBIDDEN@id"},
			} {
				r := gql(t, base, token, c.query, c.vars)
				if got := firstUserError(get(r.Data, c.field)); got != c.want {
					t.Errorf("%s as a member: %q (%+v), want %s", c.field, got, r, c.want)
				}
			}
			if after := groupsOf(t, base, token, num); !slices.ContainsFunc(after, func(g any) bool {
				return str(g, "id") == hid && str(g, "name") == "Sandbox Group" && len(members(g)) == 4
			}) {
				t.Errorf("a refused change changed the group: %v", after)
			}

			// joinGroup takes any SANDBOX link, and no other.
			for _, l := range []string{"http://chat.whatsapp.com/SANDBOXabcdefghijklmnop", "https://example.com/x", "https://chat.whatsapp.com/"} {
				r := gql(t, base, token, joinGroupM, map[string]any{"n": num, "link": l})
				if got := firstUserError(get(r.Data, "joinGroup")); got != "INVALID@link" {
					t.Errorf("joinGroup(%q): %q", l, got)
				}
			}
			r = gql(t, base, token, joinGroupM, map[string]any{"n": num, "link": "https://chat.whatsapp.com/SANDBOXabcdefghijklmnop"})
			joined := get(r.Data, "joinGroup", "group")
			if str(joined, "role") != "MEMBER" {
				t.Fatalf("joinGroup = %+v", r)
			}

			// leaveGroup: the group stays, with no role.
			r = gql(t, base, token, leaveGroupM, map[string]any{"id": str(joined, "id")})
			if g := get(r.Data, "leaveGroup", "group"); g == nil || get(g, "role") != nil {
				t.Fatalf("leaveGroup = %+v", r)
			}
			if gs := groupsOf(t, base, token, num); len(gs) != 2 {
				t.Errorf("groups after leaving one: %v", gs)
			}

			// Every change is one GROUP_UPDATED event, with whom it is about.
			want := []string{"JOINED", "CREATED", "NAME", "TOPIC", "PARTICIPANTS_ADDED +14155550102", "PROMOTED +14155550101", "JOINED", "LEFT"}
			if got := groupChanges(t, base, token, len(want)); !slices.Equal(got, want) {
				t.Errorf("group events %q, want %q", got, want)
			}
		})
	}
}

func manyPhones(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1415555%04d", i)
	}
	return out
}

// unlimited is env without the per-token request rate limit: these tests
// make many calls in a row.
func unlimited(env map[string]string) map[string]string {
	out := map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "0"}
	for k, v := range env {
		out[k] = v
	}
	return out
}

const groupMessages = `query($id: ID!, $group: ID) { node(id: $id) { ... on WhatsAppNumber {
  messages(first: 50, filter: {groupId: $group}) { totalCount edges { node {
    id direction status peer peerLid kind replyTo { id } group { id name } events { status } } } } } } }`

// numberMessages lists a number's messages, of one group when group is set.
func numberMessages(t *testing.T, base, token, numberID string, group any) []any {
	t.Helper()
	r := gql(t, base, token, groupMessages, map[string]any{"id": numberID, "group": group})
	edges, ok := get(r.Data, "node", "messages", "edges").([]any)
	if !ok {
		t.Fatalf("messages: %+v", r)
	}
	out := make([]any, len(edges))
	for i, e := range edges {
		out[i] = get(e, "node")
	}
	return out
}

func TestGroupMessages(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, unlimited(env(t)))
			token, _ := signUp(t, base, "group-messages-"+name+"@example.com")
			num := connectedNumber(t, base, token)
			home := str(groupsOf(t, base, token, num)[0], "id")

			// A message to the group: SENT, then DELIVERED once all have it,
			// READ once all read it; +15550100001 echoes it in the group.
			out := send(t, base, token, map[string]any{"numberId": num, "groupId": home, "text": "please echo"})
			var echo any
			eventually(t, "the group message read and its echo", 20*time.Second, func() bool {
				echo = nil
				for _, m := range numberMessages(t, base, token, num, nil) {
					if str(m, "direction") == "INBOUND" {
						echo = m
					}
				}
				return echo != nil && str(messageIn(numberMessages(t, base, token, num, home), out), "status") == "READ"
			})
			m := messageIn(numberMessages(t, base, token, num, home), out)
			if get(m, "peer") != nil || str(m, "group", "id") != home || str(m, "group", "name") != "Sandbox Group" ||
				!slices.Equal(eventStatuses(m), []string{"QUEUED", "SENT", "DELIVERED", "READ"}) {
				t.Errorf("group message %v", m)
			}
			if str(echo, "group", "id") != home || str(echo, "peer") != "+15550100001" || str(echo, "peerLid") != "100015550100001" || str(echo, "kind") != "TEXT" {
				t.Errorf("echo %v", echo)
			}

			// A reply with no recipient goes to the quoted message's group.
			reply := send(t, base, token, map[string]any{"numberId": num, "replyTo": str(echo, "id"), "text": "thanks"})
			if m := messageIn(numberMessages(t, base, token, num, home), reply); str(m, "group", "id") != home || str(m, "replyTo", "id") != str(echo, "id") {
				t.Errorf("reply %v", m)
			}
			if all := numberMessages(t, base, token, num, nil); len(all) != 3 {
				t.Errorf("messages %v", all)
			}
			// A one-to-one message is not of the group.
			direct := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "hi"})
			if got := numberMessages(t, base, token, num, home); len(got) != 3 || messageIn(got, direct) != nil {
				t.Errorf("group filter: %v", got)
			}

			r := gql(t, base, token, presenceMutation, map[string]any{"i": map[string]any{"numberId": num, "groupId": home, "state": "TYPING"}})
			if get(r.Data, "sendChatPresence", "ok") != true {
				t.Errorf("presence in the group: %+v", r)
			}
			// Read receipts, edits and revokes reach the group's chat.
			r = gql(t, base, token, markReadMutation, map[string]any{"ids": []string{str(echo, "id")}})
			if len(userErrorCodes(get(r.Data, "markRead"))) > 0 || len(r.Errors) > 0 {
				t.Errorf("markRead in the group: %+v", r)
			}
			r = gql(t, base, token, editMutation, map[string]any{"i": map[string]any{"messageId": out, "text": "please echo (edited)"}})
			if len(userErrorCodes(get(r.Data, "editMessage"))) > 0 || len(r.Errors) > 0 {
				t.Errorf("editMessage in the group: %+v", r)
			}

			// Bad recipients: a userError, nothing queued.
			other, _ := signUp(t, base, "group-messages-other-"+name+"@example.com")
			otherNum := connectedNumber(t, base, other)
			otherHome := str(groupsOf(t, base, other, otherNum)[0], "id")
			for _, c := range []struct {
				in   map[string]any
				want string
			}{
				{map[string]any{"numberId": num, "to": "+14155550123", "groupId": home, "text": "x"}, "INVALID@input.groupId"},
				{map[string]any{"numberId": num, "groupId": otherHome, "text": "x"}, "NOT_FOUND@input.groupId"},
				{map[string]any{"numberId": num, "groupId": "grp_nope", "text": "x"}, "NOT_FOUND@input.groupId"},
			} {
				r := gql(t, base, token, sendMutation, map[string]any{"i": c.in})
				if got := firstUserError(get(r.Data, "sendMessage")); got != c.want {
					t.Errorf("sendMessage(%v) = %q, want %s", c.in, got, c.want)
				}
			}
			r = gql(t, base, token, presenceMutation, map[string]any{"i": map[string]any{"numberId": num, "groupId": otherHome, "state": "TYPING"}})
			if got := firstUserError(get(r.Data, "sendChatPresence")); got != "NOT_FOUND@input.groupId" {
				t.Errorf("presence in another account's group: %q", got)
			}
			if all := numberMessages(t, base, token, num, nil); len(all) != 4 {
				t.Errorf("refused sends queued messages: %d", len(all))
			}
			// A reaction goes to the group of the message reacted to.
			r = gql(t, base, token, reactMutation, map[string]any{"i": map[string]any{"messageId": str(echo, "id"), "emoji": "👍"}})
			reaction := str(r.Data, "reactToMessage", "message", "id")
			if reaction == "" || get(r.Data, "reactToMessage", "message", "peer") != nil {
				t.Fatalf("reactToMessage in the group: %+v", r)
			}
			if m := messageIn(numberMessages(t, base, token, num, home), reaction); str(m, "kind") != "REACTION" {
				t.Errorf("reaction %v not in the group", m)
			}
		})
	}
}

// messageIn is the message with the id among ms, or nil.
func messageIn(ms []any, id string) any {
	for _, m := range ms {
		if str(m, "id") == id {
			return m
		}
	}
	return nil
}

func TestGroupsIsolationAndScopes(t *testing.T) {
	base := startServer(t, unlimited(nil))
	token, _ := signUp(t, base, "groups-owner@example.com")
	num := connectedNumber(t, base, token)
	r := gql(t, base, token, createGroupM, map[string]any{"i": map[string]any{"numberId": num, "name": "Mine", "participants": []string{"+14155550101"}}})
	gid := str(r.Data, "createGroup", "group", "id")
	if gid == "" {
		t.Fatalf("createGroup = %+v", r)
	}

	other, _ := signUp(t, base, "groups-other@example.com")
	otherNum := connectedNumber(t, base, other)
	if n := gql(t, base, other, groupNode, map[string]any{"id": gid}); get(n.Data, "node") != nil || len(n.Errors) > 0 {
		t.Errorf("another account's group by node: %+v", n)
	}
	for _, c := range []struct {
		query, field string
		vars         map[string]any
		want         string
	}{
		{createGroupM, "createGroup", map[string]any{"i": map[string]any{"numberId": num, "name": "x", "participants": []string{"+14155550101"}}}, "NOT_FOUND@input.numberId"},
		{updateGroupM, "updateGroup", map[string]any{"i": map[string]any{"id": gid, "name": "Theirs"}}, "NOT_FOUND@input.id"},
		{participantsM, "updateGroupParticipants", map[string]any{"i": map[string]any{"groupId": gid, "add": []string{"+14155550102"}}}, "NOT_FOUND@input.groupId"},
		{leaveGroupM, "leaveGroup", map[string]any{"id": gid}, "NOT_FOUND@id"},
		{inviteLinkM, "groupInviteLink", map[string]any{"id": gid}, "NOT_FOUND@id"},
		{joinGroupM, "joinGroup", map[string]any{"n": num, "link": "https://chat.whatsapp.com/SANDBOXabcdefghijklmnop"}, "NOT_FOUND@numberId"},
	} {
		r := gql(t, base, other, c.query, c.vars)
		if got := firstUserError(get(r.Data, c.field)); got != c.want {
			t.Errorf("%s on another account's group: %q (%+v), want %s", c.field, got, r, c.want)
		}
	}
	if g := get(gql(t, base, token, groupNode, map[string]any{"id": gid}).Data, "node"); str(g, "name") != "Mine" || str(g, "role") != "SUPERADMIN" || len(members(g)) != 2 {
		t.Errorf("the group after the other account's attempts: %v", g)
	}
	// The other account's events are its own: its first group event is
	// its own Sandbox Group's.
	groupsOf(t, base, other, otherNum)
	if evs := groupChanges(t, base, other, 1); !slices.Equal(evs, []string{"JOINED"}) {
		t.Errorf("other account's group events %v", evs)
	}
	ws := openWS(t, base, "graphql-transport-ws", other)
	ws.subscribe("g", groupEventsSub, map[string]any{"after": "0"})
	if e := get(ws.data("g"), "events"); str(e, "numberId") != otherNum {
		t.Errorf("other account's first group event %v", e)
	}
	ws.close()

	// Scopes: MANAGE_GROUPS for mutations, READ for the list.
	readOnly, _ := createAPIKey(t, base, token, "READ", "SEND")
	r = gql(t, base, readOnly, updateGroupM, map[string]any{"i": map[string]any{"id": gid, "name": "Renamed"}})
	if r.code() != "FORBIDDEN" {
		t.Errorf("updateGroup without MANAGE_GROUPS: %+v", r)
	}
	if gs := groupsOf(t, base, readOnly, num); len(gs) != 2 {
		t.Errorf("groups with READ: %v", gs)
	}
	manager, _ := createAPIKey(t, base, token, "MANAGE_GROUPS")
	r = gql(t, base, manager, updateGroupM, map[string]any{"i": map[string]any{"id": gid, "name": "Renamed"}})
	if str(r.Data, "updateGroup", "group", "name") != "Renamed" {
		t.Errorf("updateGroup with MANAGE_GROUPS: %+v", r)
	}
}

func TestGroupsExportedAndDeletedWithTheNumber(t *testing.T) {
	env, sink := privacyEnv(t, unlimited(nil))
	base := startServer(t, env)
	const email = "groups-export@example.com"
	token, _ := signUp(t, base, email)
	num := connectedNumber(t, base, token)
	groupsOf(t, base, token, num) // stores the Sandbox Group
	r := gql(t, base, token, createGroupM, map[string]any{"i": map[string]any{"numberId": num, "name": "Exported", "participants": []string{"+14155550101"}}})
	gid := str(r.Data, "createGroup", "group", "id")
	if gid == "" {
		t.Fatalf("createGroup = %+v", r)
	}

	access := carryOut(t, base, sink, token, email, "ACCESS", false)
	status, body := download(t, base, str(access, "downloadUrl"), token)
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); status != 200 || err != nil {
		t.Fatalf("export %d %s", status, body)
	}
	gs, _ := doc["groups"].([]any)
	names := []string{}
	for _, g := range gs {
		names = append(names, str(g, "name"))
		if str(g, "numberId") != num || str(g, "jid") == "" || len(get(g, "participants").([]any)) == 0 {
			t.Errorf("exported group %v", g)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Exported", "Sandbox Group"}) {
		t.Errorf("exported groups %v", names)
	}

	dbURL := serverOf(t, base).dbURL
	if n := countRows(t, dbURL, `"groups"`); n != 2 {
		t.Fatalf("%d groups stored, want 2", n)
	}
	r = gql(t, base, token, `mutation($id: ID!) { removeNumber(id: $id) { removedNumberId } }`, map[string]any{"id": num})
	if str(r.Data, "removeNumber", "removedNumberId") != num {
		t.Fatalf("removeNumber = %+v", r)
	}
	if n := countRows(t, dbURL, `"groups"`); n != 0 {
		t.Errorf("%d groups left after the number was removed", n)
	}
	if g := gql(t, base, token, groupNode, map[string]any{"id": gid}); get(g.Data, "node") != nil {
		t.Errorf("the removed number's group: %+v", g)
	}
}

func TestGroupCallsThroughAnotherInstance(t *testing.T) {
	redisURL, _, _ := privateRedis(t)
	env := sharedEnv(t, redisURL)
	env["APIWS_RATE_LIMIT_PER_SECOND"] = "0"
	a := startProcess(t, env)
	token, _ := signUp(t, a.base, "groups-instances@example.com")
	num := connectedNumber(t, a.base, token)
	b := startProcess(t, env)
	if owners(t, env["APIWS_DATABASE_URL"])[num] != a.instanceID(t) {
		t.Fatal("the number is not owned by the instance it paired on")
	}
	// Every group call made on b is made by a, which holds the number.
	gs := groupsOf(t, b.base, token, num)
	if len(gs) != 1 || str(gs[0], "name") != "Sandbox Group" {
		t.Fatalf("groups through the other instance: %v", gs)
	}
	r := gql(t, b.base, token, createGroupM, map[string]any{"i": map[string]any{"numberId": num, "name": "Far", "participants": []string{"+14155550101"}}})
	gid := str(r.Data, "createGroup", "group", "id")
	if str(r.Data, "createGroup", "group", "role") != "SUPERADMIN" {
		t.Fatalf("createGroup through the other instance: %+v", r)
	}
	if link := str(gql(t, b.base, token, inviteLinkM, map[string]any{"id": gid}).Data, "groupInviteLink", "link"); !strings.HasPrefix(link, "https://chat.whatsapp.com/SANDBOX") {
		t.Errorf("invite link through the other instance: %q", link)
	}
	// Refusals come back as the same userErrors.
	r = gql(t, b.base, token, updateGroupM, map[string]any{"i": map[string]any{"id": str(gs[0], "id"), "name": "Mine"}})
	if got := firstUserError(get(r.Data, "updateGroup")); got != "FORBIDDEN@input.name" {
		t.Errorf("rename as a member through the other instance: %q (%+v)", got, r)
	}
	r = gql(t, b.base, token, joinGroupM, map[string]any{"n": num, "link": "https://chat.whatsapp.com/NOTSANDBOX"})
	if got := firstUserError(get(r.Data, "joinGroup")); got != "INVALID@link" {
		t.Errorf("a link WhatsApp refuses, through the other instance: %q (%+v)", got, r)
	}
}

// TestGroupChangesFromWhatsApp: what another member does to a group
// reaches the number as WhatsApp tells it (the sandbox's numbers are
// members of each other's groups): stored, and logged as GROUP_UPDATED.
func TestGroupChangesFromWhatsApp(t *testing.T) {
	base := startServer(t, unlimited(nil))
	admin, _ := signUp(t, base, "groups-admin@example.com")
	adminNum := connectedNumber(t, base, admin)
	member, _ := signUp(t, base, "groups-member@example.com")
	memberNum := connectedNumber(t, base, member)
	memberPhone := str(gql(t, base, member, numberNode, map[string]any{"id": memberNum}).Data, "node", "phone")

	ws := openWS(t, base, "graphql-transport-ws", member)
	defer ws.close()
	ws.subscribe("g", groupEventsSub, map[string]any{"after": "0"})
	// next is the member's next group event, as "CHANGE phone".
	next := func() string {
		e := get(ws.data("g"), "events")
		var phones []string
		ps, _ := get(e, "participants").([]any)
		for _, p := range ps {
			phones = append(phones, str(p, "phone"))
		}
		return strings.TrimSpace(str(e, "change") + " " + strings.Join(phones, ","))
	}

	// The member's account hears of each change without asking.
	r := gql(t, base, admin, createGroupM, map[string]any{"i": map[string]any{"numberId": adminNum, "name": "Both", "participants": []string{memberPhone}}})
	gid := str(r.Data, "createGroup", "group", "id")
	if gid == "" {
		t.Fatalf("createGroup = %+v", r)
	}
	if got := next(); got != "JOINED" {
		t.Errorf("added: %q", got)
	}
	r = gql(t, base, admin, participantsM, map[string]any{"i": map[string]any{"groupId": gid, "promote": []string{memberPhone}}})
	if firstUserError(get(r.Data, "updateGroupParticipants")) != "" {
		t.Fatalf("promote = %+v", r)
	}
	if got := next(); got != "PROMOTED "+memberPhone {
		t.Errorf("promoted: %q", got)
	}
	gql(t, base, admin, updateGroupM, map[string]any{"i": map[string]any{"id": gid, "name": "Both of us"}})
	if got := next(); got != "NAME" {
		t.Errorf("renamed: %q", got)
	}
	var mine any
	for _, g := range groupsOf(t, base, member, memberNum) {
		if str(g, "name") == "Both of us" {
			mine = g
		}
	}
	if str(mine, "role") != "ADMIN" || str(mine, "id") == gid {
		t.Errorf("the member's copy of the group %v (the admin's is %s)", mine, gid)
	}
}
