// Package groups manages the WhatsApp groups of an account's numbers: it
// asks WhatsApp (through the Connector of the instance that holds the
// number) to create and change them, stores what WhatsApp says they are,
// and logs every change as a GROUP_UPDATED event.
package groups

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/eventlog"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/phones"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// maxTopic bounds a group's topic, as WhatsApp does.
const maxTopic = 2048

// writeTimeout bounds the work done for a connector event, which has no
// caller's context to end with.
const writeTimeout = 30 * time.Second

// Service implements apiws.GroupService.
type Service struct {
	db         *storage.DB
	bus        events.Bus
	events     *eventlog.Log
	connectors func(*apiws.Number) whatsapp.Connector
	owner      apiws.NumberOwner
	log        *slog.Logger
	now        func() time.Time
	after      func(time.Duration) <-chan time.Time

	ctx    context.Context
	cancel context.CancelFunc
	// calls follows the calls other instances forward (callTopic), from
	// New on: a call made once this instance holds a number is not missed.
	calls    *events.Follower
	callsErr error
	wg       sync.WaitGroup
}

var _ apiws.GroupService = (*Service)(nil)

// Deps are what the service works with.
type Deps struct {
	DB  *storage.DB
	Bus events.Bus
	// Events publishes the GROUP_UPDATED events the service logs.
	Events *eventlog.Log
	// Connectors returns the connector of a number.
	Connectors func(*apiws.Number) whatsapp.Connector
	// Router carries the connectors' GroupUpdated events to the service.
	Router *whatsapp.Router
	// Owner says which numbers this instance holds; nil: all of them.
	Owner apiws.NumberOwner
	Log   *slog.Logger
}

// New returns the service and makes it the handler of the connectors'
// group events. Run must run for it to answer other instances.
func New(d Deps) *Service {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{db: d.DB, bus: d.Bus, events: d.Events, connectors: d.Connectors, owner: d.Owner, log: d.Log,
		now: func() time.Time { return time.Now().UTC() }, after: time.After, ctx: ctx, cancel: cancel}
	if d.Router != nil {
		d.Router.HandleGroups(s.HandleGroupUpdated)
	}
	if d.Bus != nil {
		s.calls, s.callsErr = events.NewFollower(ctx, d.Bus, callTopic, apiws.EventNumberCommand)
	}
	return s
}

// Run carries out the group calls other instances forward for the numbers
// this instance holds, until ctx ends; then it waits for those under way.
func (s *Service) Run(ctx context.Context) error {
	defer s.wg.Wait()
	defer s.cancel()
	if s.callsErr != nil {
		return s.callsErr
	}
	if s.calls == nil {
		<-ctx.Done()
		return nil
	}
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	return s.calls.Serve(s.ctx, s.callRequested)
}

// Close stops following other instances' calls, for a service whose Run
// never ran (a start that failed later on); after Run it does nothing.
func (s *Service) Close() { s.cancel() }

func field(p ...string) []string { return append([]string{"input"}, p...) }

// Groups implements apiws.GroupService.
func (s *Service) Groups(ctx context.Context, numberID string) ([]*apiws.Group, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, err
	}
	n, err := s.db.Number(ctx, c.AccountID, numberID)
	if err != nil {
		return nil, err
	}
	if n.Status == apiws.NumberConnected {
		if err := s.refresh(ctx, n); err != nil {
			// What is stored is the best answer there is.
			s.log.Warn("refresh groups", "number", n.ID, "err", err)
		}
	}
	return s.db.NumberGroups(ctx, n.ID)
}

// refresh stores every group WhatsApp says the number is in, and marks
// left those it is no longer in.
func (s *Service) refresh(ctx context.Context, n *apiws.Number) error {
	a, err := s.call(ctx, n, call{Action: actionList})
	if err != nil {
		return err
	}
	in := map[string]bool{}
	for _, info := range a.Groups {
		in[info.JID] = true
		if _, err := s.store(ctx, n, info, apiws.GroupJoined); err != nil {
			return err
		}
	}
	stored, err := s.db.NumberGroups(ctx, n.ID)
	if err != nil {
		return err
	}
	for _, g := range stored {
		if !in[g.JID] {
			if _, err := s.storeLeft(ctx, n, g.JID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Group implements apiws.GroupService.
func (s *Service) Group(ctx context.Context, id string) (*apiws.Group, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, err
	}
	if !apiws.ValidID(id, apiws.PrefixGroup) {
		return nil, apiws.Errorf(apiws.ENOTFOUND, "group not found")
	}
	return s.db.Group(ctx, c.AccountID, id)
}

// CreateGroup implements apiws.GroupService.
func (s *Service) CreateGroup(ctx context.Context, in apiws.NewGroup) (*apiws.Group, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageGroups)
	if err != nil {
		return nil, err
	}
	var errs apiws.Errors
	name, nameErr := validName(in.Name, field("name"))
	if nameErr != nil {
		errs = append(errs, nameErr)
	}
	list, phoneErrs := validPhones(in.Participants, field("participants"))
	errs = append(errs, phoneErrs...)
	if len(in.Participants) == 0 || len(in.Participants) > apiws.MaxGroupParticipants {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, field("participants"), "give 1 to %d participants, not %d", apiws.MaxGroupParticipants, len(in.Participants)))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	n, err := s.connectedNumber(ctx, c.AccountID, in.NumberID, field("numberId"))
	if err != nil {
		return nil, err
	}
	a, err := s.call(ctx, n, call{Action: actionCreate, Name: name, Phones: list})
	if err != nil {
		return nil, userError(err, field("numberId"))
	}
	return s.store(ctx, n, *a.Group, apiws.GroupCreated)
}

// UpdateGroup implements apiws.GroupService.
func (s *Service) UpdateGroup(ctx context.Context, in apiws.GroupUpdate) (*apiws.Group, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageGroups)
	if err != nil {
		return nil, err
	}
	var errs apiws.Errors
	var name string
	if in.Name != nil {
		var nameErr *apiws.Error
		if name, nameErr = validName(*in.Name, field("name")); nameErr != nil {
			errs = append(errs, nameErr)
		}
	}
	if in.Topic != nil && utf8.RuneCountInString(*in.Topic) > maxTopic {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, field("topic"), "must be at most %d characters", maxTopic))
	}
	if in.Name == nil && in.Topic == nil {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, field("name"), "give a name, a topic or both"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	g, n, err := s.groupOfCaller(ctx, c.AccountID, in.ID, field("id"))
	if err != nil {
		return nil, err
	}
	if in.Name != nil {
		if _, err := s.call(ctx, n, call{Action: actionName, JID: g.JID, Name: name}); err != nil {
			return nil, userError(err, field("name"))
		}
	}
	if in.Topic != nil {
		if _, err := s.call(ctx, n, call{Action: actionTopic, JID: g.JID, Topic: strings.TrimSpace(*in.Topic)}); err != nil {
			return nil, userError(err, field("topic"))
		}
	}
	return s.reload(ctx, n, g.JID)
}

// UpdateGroupParticipants implements apiws.GroupService. The lists are
// applied in the order add, remove, promote, demote.
func (s *Service) UpdateGroupParticipants(ctx context.Context, in apiws.GroupParticipantsUpdate) (*apiws.Group, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageGroups)
	if err != nil {
		return nil, err
	}
	lists := []struct {
		name   string
		phones []string
		action whatsapp.ParticipantAction
	}{{"add", in.Add, whatsapp.ParticipantsAdd}, {"remove", in.Remove, whatsapp.ParticipantsRemove},
		{"promote", in.Promote, whatsapp.ParticipantsPromote}, {"demote", in.Demote, whatsapp.ParticipantsDemote}}
	var errs apiws.Errors
	total := 0
	for i, l := range lists {
		var listErrs apiws.Errors
		lists[i].phones, listErrs = validPhones(l.phones, field(l.name))
		errs = append(errs, listErrs...)
		if len(l.phones) > apiws.MaxGroupParticipants {
			errs = append(errs, apiws.FieldError(apiws.EINVALID, field(l.name), "give at most %d phones", apiws.MaxGroupParticipants))
		}
		total += len(l.phones)
	}
	if total == 0 {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, field("add"), "give the phones to add, remove, promote or demote"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	g, n, err := s.groupOfCaller(ctx, c.AccountID, in.GroupID, field("groupId"))
	if err != nil {
		return nil, err
	}
	for _, l := range lists {
		if len(l.phones) == 0 {
			continue
		}
		if _, err := s.call(ctx, n, call{Action: actionParticipants, JID: g.JID, Participants: l.action, Phones: l.phones}); err != nil {
			return nil, userError(err, field("groupId"))
		}
	}
	return s.reload(ctx, n, g.JID)
}

// LeaveGroup implements apiws.GroupService.
func (s *Service) LeaveGroup(ctx context.Context, id string) (*apiws.Group, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageGroups)
	if err != nil {
		return nil, err
	}
	g, n, err := s.groupOfCaller(ctx, c.AccountID, id, []string{"id"})
	if err != nil {
		return nil, err
	}
	if _, err := s.call(ctx, n, call{Action: actionLeave, JID: g.JID}); err != nil && apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
		return nil, userError(err, []string{"id"})
	}
	return s.storeLeft(ctx, n, g.JID)
}

// GroupInviteLink implements apiws.GroupService.
func (s *Service) GroupInviteLink(ctx context.Context, id string, reset bool) (string, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageGroups)
	if err != nil {
		return "", err
	}
	g, n, err := s.groupOfCaller(ctx, c.AccountID, id, []string{"id"})
	if err != nil {
		return "", err
	}
	a, err := s.call(ctx, n, call{Action: actionLink, JID: g.JID, Reset: reset})
	if err != nil {
		return "", userError(err, []string{"id"})
	}
	return a.Link, nil
}

// JoinGroup implements apiws.GroupService.
func (s *Service) JoinGroup(ctx context.Context, numberID, link string) (*apiws.Group, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageGroups)
	if err != nil {
		return nil, err
	}
	link = strings.TrimSpace(link)
	code, ok := strings.CutPrefix(link, apiws.GroupLinkPrefix)
	if !ok || code == "" || strings.ContainsAny(code, "/?# ") {
		return nil, apiws.FieldError(apiws.EINVALID, []string{"link"}, "must be a WhatsApp invite link, %s...", apiws.GroupLinkPrefix)
	}
	n, err := s.connectedNumber(ctx, c.AccountID, numberID, []string{"numberId"})
	if err != nil {
		return nil, err
	}
	a, err := s.call(ctx, n, call{Action: actionJoin, Link: link})
	if err != nil {
		return nil, userError(err, []string{"link"})
	}
	b, err := s.call(ctx, n, call{Action: actionGroup, JID: a.JID})
	if err != nil {
		return nil, userError(err, []string{"link"})
	}
	return s.store(ctx, n, *b.Group, apiws.GroupJoined)
}

// reload stores the group as WhatsApp now has it, after a change.
func (s *Service) reload(ctx context.Context, n *apiws.Number, jid string) (*apiws.Group, error) {
	a, err := s.call(ctx, n, call{Action: actionGroup, JID: jid})
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return s.storeLeft(ctx, n, jid)
	}
	if err != nil {
		return nil, userError(err, nil)
	}
	return s.store(ctx, n, *a.Group, apiws.GroupJoined)
}

// store records info as the number's group and logs what changed; first
// is how a group not stored yet came (CREATED or JOINED).
func (s *Service) store(ctx context.Context, n *apiws.Number, info whatsapp.GroupInfo, first apiws.GroupChange) (*apiws.Group, error) {
	self := ""
	if n.Phone != nil {
		self = *n.Phone
	}
	at := s.now()
	g, evs, err := s.db.ChangeGroup(ctx, n, info.JID, func(g *apiws.Group, found bool) []*apiws.LogEvent {
		return apply(g, self, found, info, first, at)
	})
	if err != nil {
		return nil, err
	}
	s.events.Publish(ctx, evs...)
	return g, nil
}

// storeLeft records that the number is no longer in the group.
func (s *Service) storeLeft(ctx context.Context, n *apiws.Number, jid string) (*apiws.Group, error) {
	if _, err := s.db.GroupByJID(ctx, n.ID, jid); err != nil {
		return nil, err // never stored: nothing to record
	}
	at := s.now()
	g, evs, err := s.db.ChangeGroup(ctx, n, jid, func(g *apiws.Group, found bool) []*apiws.LogEvent { return leave(g, at) })
	if err != nil {
		return nil, err
	}
	s.events.Publish(ctx, evs...)
	return g, nil
}

// GroupOf returns the number's group with the JID, asking WhatsApp about
// it (and storing it) when it is not stored yet: a message from a group
// may come before any word of the group. It is for the connector events
// of the numbers this instance holds.
func (s *Service) GroupOf(ctx context.Context, n *apiws.Number, jid string) (*apiws.Group, error) {
	g, err := s.db.GroupByJID(ctx, n.ID, jid)
	if apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
		return g, err
	}
	info, err := s.connectors(n).Group(ctx, n, jid)
	if err != nil {
		// The message must not be lost for want of the group's details:
		// the group is stored as what the message tells (the number is a
		// member, by its JID), and the next listing or group event fills
		// in its name and participants.
		s.log.Warn("read a group of an inbound message; stored by its JID until the next refresh", "number", n.ID, "group", jid, "err", err)
		info = whatsapp.GroupInfo{JID: jid, Role: apiws.RoleMember}
	}
	return s.store(ctx, n, info, apiws.GroupJoined)
}

// HandleGroupUpdated applies a connector's report that a group changed: it
// stores the group as WhatsApp now has it, logging what changed.
func (s *Service) HandleGroupUpdated(ev *whatsapp.GroupUpdated) {
	ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
	defer cancel()
	n, err := s.db.NumberByID(ctx, ev.NumberID)
	if err != nil {
		s.log.Warn("group event for an unknown number", "number", ev.NumberID, "err", err)
		return
	}
	if ev.Change == apiws.GroupLeft {
		if _, err := s.storeLeft(ctx, n, ev.JID); err != nil && apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			s.log.Error("record a group left", "number", n.ID, "group", ev.JID, "err", err)
		}
		return
	}
	info := ev.Info
	if info == nil {
		got, err := s.connectors(n).Group(ctx, n, ev.JID)
		if errors.Is(err, whatsapp.ErrGroupNotFound) {
			if _, err := s.storeLeft(ctx, n, ev.JID); err != nil && apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
				s.log.Error("record a group left", "number", n.ID, "group", ev.JID, "err", err)
			}
			return
		}
		if err != nil {
			s.log.Warn("read a changed group", "number", n.ID, "group", ev.JID, "err", err)
			return
		}
		info = &got
	}
	first := apiws.GroupJoined
	if ev.Change == apiws.GroupCreated {
		first = apiws.GroupCreated
	}
	if _, err := s.store(ctx, n, *info, first); err != nil {
		s.log.Error("store a changed group", "number", n.ID, "group", ev.JID, "err", err)
	}
}

// connectedNumber is one of the account's numbers, connected; else a
// userError at the field.
func (s *Service) connectedNumber(ctx context.Context, accountID, id string, at []string) (*apiws.Number, error) {
	if !apiws.ValidID(id, apiws.PrefixNumber) {
		return nil, apiws.FieldError(apiws.ENOTFOUND, at, "no such number")
	}
	n, err := s.db.Number(ctx, accountID, id)
	return apiws.ConnectedNumber(n, err, at)
}

// groupOfCaller is one of the account's groups the number is still in,
// and its number, connected; else a userError at the field.
func (s *Service) groupOfCaller(ctx context.Context, accountID, id string, at []string) (*apiws.Group, *apiws.Number, error) {
	if !apiws.ValidID(id, apiws.PrefixGroup) {
		return nil, nil, apiws.FieldError(apiws.ENOTFOUND, at, "no such group")
	}
	g, err := s.db.Group(ctx, accountID, id)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, nil, apiws.FieldError(apiws.ENOTFOUND, at, "no such group")
	} else if err != nil {
		return nil, nil, err
	}
	if g.Role == nil {
		return nil, nil, apiws.FieldError(apiws.ENOTFOUND, at, "the number left this group")
	}
	n, err := s.connectedNumber(ctx, accountID, g.NumberID, at)
	if err != nil {
		return nil, nil, err
	}
	return g, n, nil
}

// validName trims a group's name and checks its length.
func validName(name string, at []string) (string, *apiws.Error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > apiws.MaxGroupName {
		return "", apiws.FieldError(apiws.EINVALID, at, "must be 1 to %d characters", apiws.MaxGroupName)
	}
	return name, nil
}

// validPhones returns the phones in E.164, each once; a phone that is not
// valid is INVALID at its index.
func validPhones(list []string, at []string) ([]string, apiws.Errors) {
	var errs apiws.Errors
	out := make([]string, 0, len(list))
	seen := map[string]bool{}
	for i, p := range list {
		e164, ok := phones.Normalize(p)
		if !ok {
			errs = append(errs, apiws.FieldError(apiws.EINVALID, append(append([]string{}, at...), strconv.Itoa(i)),
				"is not a valid phone number in international form, e.g. +14155550123"))
			continue
		}
		if !seen[e164] {
			seen[e164] = true
			out = append(out, e164)
		}
	}
	return out, errs
}

// userError turns a connector's refusal (coded by call) into the
// userError at the field: FORBIDDEN for a non-admin, NOT_FOUND for a group
// the number is not in, INVALID for a bad link or phone, NOT_CONNECTED;
// other errors stay errors.
func userError(err error, at []string) error {
	var e *apiws.Error
	if !errors.As(err, &e) {
		return err
	}
	msg := map[apiws.ErrorCode]string{
		apiws.EFORBIDDEN:    "only the group's admins may do that",
		apiws.ENOTFOUND:     "the number is not in this group",
		apiws.EINVALID:      "WhatsApp refused it: " + e.Message,
		apiws.ENOTCONNECTED: "the number is not connected",
	}[e.Code]
	if msg == "" {
		return err
	}
	// A list, so that FORBIDDEN is told as a userError too.
	return apiws.Errors{apiws.FieldError(e.Code, at, "%s", msg)}
}
