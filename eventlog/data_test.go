package eventlog

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// schema loads the project's GraphQL schema.
func schema(t *testing.T) *ast.Schema {
	t.Helper()
	files, err := filepath.Glob("../graph/schema/*.graphqls")
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v", err)
	}
	var srcs []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, &ast.Source{Name: f, Input: string(b)})
	}
	s, err := gqlparser.LoadSchema(srcs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fields returns the GraphQL field names of typ, without those left out
// of event data: fields with arguments, and leftOut.
func fields(s *ast.Schema, typ string, leftOut ...string) []string {
	var out []string
	for _, f := range s.Types[typ].Fields {
		if !slices.Contains(leftOut, f.Name) && f.Name[0] != '_' && len(f.Arguments) == 0 {
			out = append(out, f.Name)
		}
	}
	slices.Sort(out)
	return out
}

func keys(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not an object", v)
	}
	return slices.Sorted(maps.Keys(m))
}

// TestEventDataHasEveryField: the data of each event type has exactly the
// fields of its GraphQL type, and of the objects in it.
func TestEventDataHasEveryField(t *testing.T) {
	s := schema(t)
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		bus := events.NewMemory(events.Options{})
		defer bus.Close()
		l, err := New(db, bus, make([]byte, 32), time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		acc := storagetest.Account(t, db)
		now := time.Now().UTC()
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc, Status: apiws.NumberConnected, CreatedAt: now}
		numberEv, err := db.CreateNumberLogged(ctx, n, &storage.StatusNote{At: now, Reason: "paired"})
		if err != nil {
			t.Fatal(err)
		}
		out := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: n.ID, Direction: apiws.Outbound,
			Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusQueued, QueuedAt: &now}
		statusEv, err := db.QueueMessage(ctx, out, []byte("sealed"))
		if err != nil {
			t.Fatal(err)
		}
		waID := "3EB0DATA"
		in := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: n.ID, Direction: apiws.Inbound,
			Peer: "+15550100002", Kind: apiws.KindText, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &now}
		receivedEv, err := db.InsertInbound(ctx, in, apiws.ContentOf(apiws.KindText, "hello", nil))
		if err != nil {
			t.Fatal(err)
		}
		edited, revoked := "hello again", now.Add(time.Second)
		editEv := &apiws.LogEvent{AccountID: acc, Type: apiws.EventTypeMessageEdited, NumberID: n.ID, MessageID: in.ID, At: now,
			Content: &apiws.MessageContent{Text: &edited, Mentions: []apiws.Peer{}}}
		revokeEv := &apiws.LogEvent{AccountID: acc, Type: apiws.EventTypeMessageRevoked, NumberID: n.ID, MessageID: in.ID, At: revoked}
		emoji, phone, lid := "👍", "+15550100002", "100015550100002"
		reactionEv := &apiws.LogEvent{AccountID: acc, Type: apiws.EventTypeReaction, NumberID: n.ID, MessageID: out.ID, At: now,
			Detail:  &apiws.EventDetail{Peer: &apiws.Peer{Phone: &phone}},
			Content: &apiws.MessageContent{Emoji: &emoji, Mentions: []apiws.Peer{}}}
		votes := []string{}
		voteEv := &apiws.LogEvent{AccountID: acc, Type: apiws.EventTypePollVote, NumberID: n.ID, MessageID: out.ID, At: now,
			Detail:  &apiws.EventDetail{Peer: &apiws.Peer{LID: &lid}},
			Content: &apiws.MessageContent{Votes: &votes, Mentions: []apiws.Peer{}}}
		if err := db.MarkEdited(ctx, in.ID, now, editEv); err != nil {
			t.Fatal(err)
		}
		if err := db.MarkRevoked(ctx, in.ID, revoked, revokeEv); err != nil {
			t.Fatal(err)
		}
		for _, ev := range []*apiws.LogEvent{reactionEv, voteEv} {
			if err := db.LogEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		// A group change, logged with the group it stores.
		member := "+15550100003"
		var groupEv *apiws.LogEvent
		if _, evs, err := db.ChangeGroup(ctx, n, "120363000000000001@g.us", func(g *apiws.Group, found bool) []*apiws.LogEvent {
			role := apiws.RoleAdmin
			g.Name, g.Role, g.UpdatedAt = "Team", &role, now
			g.Participants = []*apiws.GroupParticipant{{Peer: apiws.Peer{Phone: &member}, Role: apiws.RoleMember}}
			snapshot := *g
			groupEv = &apiws.LogEvent{AccountID: acc, Type: apiws.EventTypeGroupUpdated, NumberID: n.ID, At: now,
				Detail: &apiws.EventDetail{GroupDetail: apiws.GroupDetail{Group: &snapshot, GroupChange: apiws.GroupParticipantsAdded, Participants: []apiws.Peer{{Phone: &member}}}}}
			return []*apiws.LogEvent{groupEv}
		}); err != nil || len(evs) != 1 {
			t.Fatalf("ChangeGroup: %v, %v", evs, err)
		}
		// As a deliverer reads them: from the log, content from transit.
		logged, err := db.EventsAfter(ctx, acc, 0, "", 10)
		if err != nil || len(logged) != 8 {
			t.Fatalf("logged %v, %v", logged, err)
		}
		datas, err := l.EventData(ctx, logged)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]map[string]any{}
		for i, d := range datas {
			var v map[string]any
			if err := json.Unmarshal(d, &v); err != nil {
				t.Fatal(err)
			}
			got[logged[i].Seq] = v
		}
		check := func(what string, v any, typ string, leftOut ...string) {
			t.Helper()
			if k, want := keys(t, v), fields(s, typ, leftOut...); !slices.Equal(k, want) {
				t.Errorf("%s: fields %v; want those of %s %v", what, k, typ, want)
			}
		}
		st := got[statusEv.Seq]
		check("MESSAGE_STATUS", st, "MessageStatusEvent")
		check("its message", st["message"], "Message", "events")
		if st["cursor"] != "2" || st["type"] != "MESSAGE_STATUS" || st["status"] != "QUEUED" || st["messageId"] != out.ID {
			t.Errorf("MESSAGE_STATUS data %v", st)
		}
		rc := got[receivedEv.Seq]
		check("MESSAGE_RECEIVED", rc, "MessageReceivedEvent")
		check("its content", rc["content"], "MessageContent")
		if c := rc["content"].(map[string]any); c["text"] != "hello" {
			t.Errorf("MESSAGE_RECEIVED content %v", c)
		}
		ed := got[editEv.Seq]
		check("MESSAGE_EDITED", ed, "MessageEditedEvent")
		check("its content", ed["content"], "MessageContent")
		check("its message", ed["message"], "Message", "events")
		msg := ed["message"].(map[string]any)
		if c := ed["content"].(map[string]any); c["text"] != edited || msg["editedAt"] != now.Format(apiws.TimeLayout) ||
			msg["revokedAt"] != revoked.Format(apiws.TimeLayout) {
			t.Errorf("MESSAGE_EDITED data %v", ed)
		}
		rv := got[revokeEv.Seq]
		check("MESSAGE_REVOKED", rv, "MessageRevokedEvent")
		if rv["type"] != "MESSAGE_REVOKED" || rv["message"].(map[string]any)["id"] != in.ID {
			t.Errorf("MESSAGE_REVOKED data %v", rv)
		}
		re := got[reactionEv.Seq]
		check("REACTION", re, "ReactionEvent")
		check("its from", re["from"], "Peer")
		if re["emoji"] != emoji || re["from"].(map[string]any)["phone"] != phone || re["message"].(map[string]any)["id"] != out.ID {
			t.Errorf("REACTION data %v", re)
		}
		pv := got[voteEv.Seq]
		check("POLL_VOTE", pv, "PollVoteEvent")
		check("its voter", pv["voter"], "Peer")
		if opts, ok := pv["options"].([]any); !ok || len(opts) != 0 || pv["voter"].(map[string]any)["lid"] != lid {
			t.Errorf("POLL_VOTE data %v: a withdrawn vote has options []", pv)
		}
		ns := got[numberEv.Seq]
		check("NUMBER_STATUS", ns, "NumberStatusEvent")
		check("its number", ns["number"], "WhatsAppNumber", "messages", "groups")
		gu := got[groupEv.Seq]
		check("GROUP_UPDATED", gu, "GroupUpdatedEvent")
		check("its group", gu["group"], "Group")
		check("its participant", gu["participants"].([]any)[0], "Peer")
		if g := gu["group"].(map[string]any); gu["change"] != "PARTICIPANTS_ADDED" || g["name"] != "Team" || g["role"] != "ADMIN" ||
			g["number"].(map[string]any)["id"] != n.ID || len(g["participants"].([]any)) != 1 {
			t.Errorf("GROUP_UPDATED data %v", gu)
		}
		if ns["status"] != "CONNECTED" || ns["reason"] != "paired" || ns["at"] != now.Format(apiws.TimeLayout) {
			t.Errorf("NUMBER_STATUS data %v", ns)
		}
	})
}

// TestMediaLinkWhileHeld: an inbound file's media.url is its signed link
// in the event data and in published events while its content is held;
// the reference stays sealed in transit until the TTL, after the content
// is released.
func TestMediaLinkWhileHeld(t *testing.T) {
	s := schema(t)
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		bus := events.NewMemory(events.Options{})
		defer bus.Close()
		secret := make([]byte, 32)
		l, err := New(db, bus, secret, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		links, err := apiws.NewMediaLinks(secret, "https://apiws.example")
		if err != nil {
			t.Fatal(err)
		}
		l.LinkMedia(links)
		acc := storagetest.Account(t, db)
		now := time.Now().UTC()
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc, Status: apiws.NumberConnected, CreatedAt: now}
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		inbound := func(waID string, media *apiws.InboundMedia) *apiws.LogEvent {
			t.Helper()
			m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: n.ID, Direction: apiws.Inbound,
				Peer: "+15550100002", Kind: apiws.KindImage, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &now}
			ev, err := db.InsertInbound(ctx, m, apiws.ContentOf(apiws.KindImage, "a caption", media))
			if err != nil {
				t.Fatal(err)
			}
			return ev
		}
		sub, err := bus.Subscribe(ctx, acc, apiws.EventLogged)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		ev := inbound("3EB0IMG", &apiws.InboundMedia{MimeType: "image/png", FileName: "a.png", Size: 70, Ref: []byte("the ref")})
		noRef := inbound("3EB0NOREF", &apiws.InboundMedia{MimeType: "image/png", Size: 70})
		if ev.MediaUntil == nil || noRef.MediaUntil != nil {
			t.Fatalf("MediaUntil = %v and %v; want the TTL, and none without a reference", ev.MediaUntil, noRef.MediaUntil)
		}
		want := links.URL(apiws.MediaLink{AccountID: acc, Seq: ev.Seq, Expires: *ev.MediaUntil})

		media := func() (any, any) {
			t.Helper()
			logged, err := db.EventsAfter(ctx, acc, 0, "", 10)
			if err != nil || len(logged) != 2 {
				t.Fatalf("logged %v, %v", logged, err)
			}
			datas, err := l.EventData(ctx, logged)
			if err != nil {
				t.Fatal(err)
			}
			var out [2]map[string]any
			for i, d := range datas {
				if err := json.Unmarshal(d, &out[i]); err != nil {
					t.Fatal(err)
				}
			}
			return out[0]["content"], out[1]["content"]
		}
		c, other := media()
		m := c.(map[string]any)["media"].(map[string]any)
		if k, f := keys(t, m), fields(s, "MediaInfo"); !slices.Equal(k, f) {
			t.Errorf("media fields %v; want %v", k, f)
		}
		if m["url"] != want || m["mimeType"] != "image/png" || m["fileName"] != "a.png" {
			t.Errorf("media %v; want the url %s", m, want)
		}
		if u := other.(map[string]any)["media"].(map[string]any)["url"]; u != nil {
			t.Errorf("a file with no reference has the url %v", u)
		}

		l.Publish(ctx, ev)
		var published *apiws.LogEvent
		if evs := l.decode(<-sub.C()); len(evs) == 1 {
			published = evs[0]
		}
		if published == nil || published.Content == nil || published.Content.Media == nil || published.Content.Media.URL == nil ||
			*published.Content.Media.URL != want || published.Content.Media.Ref != nil {
			t.Fatalf("published %+v", published)
		}

		// Every webhook endpoint got it: the content goes, the reference
		// stays, sealed, until the TTL.
		if _, err := db.SQL().Exec("UPDATE inbound_transit SET content = NULL"); err != nil {
			t.Fatal(err)
		}
		if c, _ := media(); c != nil {
			t.Errorf("content after its release: %v", c)
		}
		numberID, held, err := l.Media(ctx, apiws.MediaLink{AccountID: acc, Seq: ev.Seq})
		if err != nil || numberID != n.ID || held == nil || string(held.Ref) != "the ref" || held.MimeType != "image/png" || held.FileName != "a.png" {
			t.Fatalf("Media = %q, %+v, %v", numberID, held, err)
		}
		if _, held, _ := l.Media(ctx, apiws.MediaLink{AccountID: acc, Seq: noRef.Seq}); held != nil {
			t.Errorf("a file with no reference is held: %+v", held)
		}
		if _, err := db.DeleteExpiredTransit(ctx, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, held, err := l.Media(ctx, apiws.MediaLink{AccountID: acc, Seq: ev.Seq}); held != nil || err != nil {
			t.Fatalf("after the TTL: %+v, %v", held, err)
		}
	})
}
