package numbers

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/phones"
	"github.com/apiws/apiws/whatsapp"
)

// Lookup implements apiws.NumberService. It needs ScopeRead (the schema's
// contract): it reads what WhatsApp knows and changes nothing; what it
// costs in WhatsApp requests the connector bounds, by caching answers a
// day and pacing the requests of each number. The instance that holds the
// number's connection asks WhatsApp: another one forwards the lookup to it
// over the bus.
func (s *Service) Lookup(ctx context.Context, numberID string, list []string) ([]apiws.NumberLookup, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, err
	}
	if len(list) > apiws.MaxLookup {
		return nil, apiws.Errorf(apiws.EBADREQUEST, "lookup takes at most %d phones a call, not %d", apiws.MaxLookup, len(list))
	}
	distinct, err := distinctPhones(list)
	if err != nil {
		return nil, err
	}
	if !apiws.ValidID(numberID, apiws.PrefixNumber) {
		return nil, apiws.Errorf(apiws.ENOTFOUND, "no such number")
	}
	n, err := s.db.Number(ctx, c.AccountID, numberID)
	if err != nil {
		return nil, err
	}
	if len(distinct) == 0 {
		return []apiws.NumberLookup{}, nil
	}
	if n.Status != apiws.NumberConnected {
		return nil, errNotConnected()
	}
	if !apiws.Owns(s.owner, n.ID) {
		return s.lookupThroughOwner(ctx, n.ID, distinct)
	}
	return s.lookupHere(ctx, n, distinct)
}

// lookupHere looks phones up through the connection this instance holds.
func (s *Service) lookupHere(ctx context.Context, n *apiws.Number, phones []string) ([]apiws.NumberLookup, error) {
	conn, err := s.connector(n.Sandbox)
	if err != nil {
		return nil, err
	}
	rs, err := conn.Lookup(ctx, n, phones)
	switch {
	case errors.Is(err, whatsapp.ErrNotConnected):
		return nil, errNotConnected()
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		s.log.Warn("lookup", "number", n.ID, "phones", len(phones), "err", err)
		return nil, apiws.Errorf(apiws.EUNAVAILABLE, "WhatsApp did not answer the lookup; try again")
	}
	return lookups(rs), nil
}

func errNotConnected() error {
	return apiws.Errorf(apiws.ENOTCONNECTED, "the number is not connected; reconnect it to look phones up")
}

// lookupWait bounds how long a lookup waits for the owner of the number,
// on another instance, to answer; the owner gives up a little earlier.
const lookupWait = 30 * time.Second

// lookupAnswer is the owner's answer to a lookup command: the results, or
// the error's code and message.
type lookupAnswer struct {
	Results []apiws.NumberLookup `json:"results,omitempty"`
	Code    apiws.ErrorCode      `json:"code,omitempty"`
	Message string               `json:"message,omitempty"`
}

// lookupThroughOwner asks the instance that holds the number's connection
// to look the phones up, and waits for its answer on a reply topic of its
// own.
func (s *Service) lookupThroughOwner(ctx context.Context, numberID string, phones []string) ([]apiws.NumberLookup, error) {
	reply := "number-lookup-" + apiws.NewID("r")
	f, err := events.NewFollower(ctx, s.bus, reply, apiws.EventNumberCommand)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, _ := json.Marshal(command{Action: "lookup", NumberID: numberID, Phones: phones, Reply: reply})
	if err := s.bus.Publish(ctx, commandTopic, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: numberID, Data: data}); err != nil {
		return nil, err
	}
	timeout := s.after(lookupWait)
	for {
		select {
		case ev, ok := <-f.C():
			if !ok {
				if ev, err = f.Resume(); err != nil {
					return nil, err
				}
			}
			var a lookupAnswer
			if ev.Kind != apiws.EventNumberCommand || ev.NumberID != numberID || json.Unmarshal(ev.Data, &a) != nil {
				continue
			}
			if a.Code != "" {
				return nil, apiws.Errorf(a.Code, "%s", a.Message)
			}
			if a.Results == nil {
				a.Results = []apiws.NumberLookup{}
			}
			return a.Results, nil
		case <-timeout:
			return nil, apiws.Errorf(apiws.EUNAVAILABLE, "the server holding the number's connection did not answer; try again")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// obeyLookup looks phones up for another instance, through the connection
// this instance holds, and answers on the command's reply topic.
func (s *Service) obeyLookup(cmd command) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, lookupWait-5*time.Second)
	defer cancel()
	var a lookupAnswer
	n, err := s.db.NumberByID(ctx, cmd.NumberID)
	if err == nil {
		a.Results, err = s.lookupHere(ctx, n, cmd.Phones)
	}
	if err != nil {
		a.Code, a.Message = apiws.ErrorCodeOf(err), apiws.ErrorMessage(err)
		if a.Code == apiws.EINTERNAL {
			s.log.Warn("lookup on request of another instance", "number", cmd.NumberID, "err", err)
			a.Code, a.Message = apiws.EUNAVAILABLE, "the lookup failed; try again"
		}
	}
	data, _ := json.Marshal(a)
	if err := s.bus.Publish(ctx, cmd.Reply, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: cmd.NumberID, Data: data}); err != nil {
		s.log.Warn("answer a lookup", "number", cmd.NumberID, "err", err)
	}
}

// distinctPhones returns the phones of list in E.164, each once, in the
// order of their first mention. A phone that is not a possible number is
// EBADREQUEST naming its index: lookup has no payload for userErrors.
func distinctPhones(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for i, p := range list {
		e164, ok := phones.Normalize(p)
		if !ok {
			return nil, apiws.Errorf(apiws.EBADREQUEST, "phones[%d] is not a valid phone number", i)
		}
		if !seen[e164] {
			seen[e164] = true
			out = append(out, e164)
		}
	}
	return out, nil
}

// lookups converts the connector's answers.
func lookups(rs []whatsapp.LookupResult) []apiws.NumberLookup {
	out := make([]apiws.NumberLookup, len(rs))
	for i, r := range rs {
		out[i] = apiws.NumberLookup{Phone: r.Phone, OnWhatsApp: r.OnWhatsApp}
		if r.OnWhatsApp && r.LID != "" {
			lid := r.LID
			out[i].LID = &lid
		}
	}
	return out
}
