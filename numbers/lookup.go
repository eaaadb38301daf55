package numbers

import (
	"context"
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

// lookupThroughOwner asks the instance that holds the number's connection
// to look the phones up, and waits for its answer.
func (s *Service) lookupThroughOwner(ctx context.Context, numberID string, phones []string) ([]apiws.NumberLookup, error) {
	var results []apiws.NumberLookup
	err := events.Ask(ctx, s.bus, commandTopic, numberID, s.after(lookupWait), func(reply string) any {
		return command{Action: "lookup", NumberID: numberID, Phones: phones, Reply: reply}
	}, &results)
	if err != nil {
		return nil, err
	}
	if results == nil {
		results = []apiws.NumberLookup{}
	}
	return results, nil
}

// obeyLookup looks phones up for another instance, through the connection
// this instance holds, and answers on the command's reply topic.
func (s *Service) obeyLookup(cmd command) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, lookupWait-5*time.Second)
	defer cancel()
	var results []apiws.NumberLookup
	n, err := s.db.NumberByID(ctx, cmd.NumberID)
	if err == nil {
		results, err = s.lookupHere(ctx, n, cmd.Phones)
	}
	if apiws.ErrorCodeOf(err) == apiws.EINTERNAL {
		s.log.Warn("lookup on request of another instance", "number", cmd.NumberID, "err", err)
	}
	if err := events.Answer(ctx, s.bus, cmd.Reply, cmd.NumberID, results, err); err != nil {
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
