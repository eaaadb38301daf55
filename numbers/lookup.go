package numbers

import (
	"context"
	"errors"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/phones"
	"github.com/apiws/apiws/whatsapp"
)

// Lookup implements apiws.NumberService. It needs ScopeRead (the schema's
// contract): it reads what WhatsApp knows and changes nothing; what it
// costs in WhatsApp requests the connector bounds, by caching answers a
// day and pacing the requests of each number. The number's connection
// must be in this instance (its owner's); elsewhere the answer is
// EUNAVAILABLE.
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
	notConnected := apiws.Errorf(apiws.ENOTCONNECTED, "the number is not connected; reconnect it to look phones up")
	if n.Status != apiws.NumberConnected {
		return nil, notConnected
	}
	if !apiws.Owns(s.owner, n.ID) {
		return nil, apiws.Errorf(apiws.EUNAVAILABLE, "the number's connection is moving between servers; try again shortly")
	}
	conn, err := s.connector(n.Sandbox)
	if err != nil {
		return nil, err
	}
	rs, err := conn.Lookup(ctx, n, distinct)
	switch {
	case errors.Is(err, whatsapp.ErrNotConnected):
		return nil, notConnected
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		s.log.Warn("lookup", "number", n.ID, "phones", len(distinct), "err", err)
		return nil, apiws.Errorf(apiws.EUNAVAILABLE, "WhatsApp did not answer the lookup; try again")
	}
	return lookups(rs), nil
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
