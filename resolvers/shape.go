package resolvers

import (
	"context"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/model"
)

// deref is *p, or the zero value for nil: an optional argument's default.
func deref[T any](p *T) T {
	var v T
	if p != nil {
		v = *p
	}
	return v
}

// payload returns the shaper of a mutation's payload from a service's
// answer (v, err): input problems become its userErrors (with a zero
// result), anything else is the error, and a success carries v. build makes
// the payload of one result. Use it as payload(build)(service call).
func payload[T, P any](build func(T, []*apiws.Error) *P) func(v T, err error) (*P, error) {
	return func(v T, err error) (*P, error) {
		ues, err := userErrors(err)
		if err != nil || len(ues) > 0 {
			var zero T
			return build(zero, ues), err
		}
		return build(v, ues), nil
	}
}

func accountPayload(acc *apiws.Account, ues []*apiws.Error) *model.AccountPayload {
	return &model.AccountPayload{Account: acc, UserErrors: ues}
}

func apiKeyPayload(k *apiws.APIKey, ues []*apiws.Error) *model.APIKeyPayload {
	return &model.APIKeyPayload{APIKey: k, UserErrors: ues}
}

// sendInput is the service's input of a send.
func sendInput(in *model.SendMessageInput) apiws.SendMessage {
	return apiws.SendMessage{
		NumberID: in.NumberID, To: in.To, GroupID: in.GroupID, Text: in.Text, Media: in.Media,
		Location: in.Location, Contacts: in.Contacts, Poll: in.Poll, ReplyTo: in.ReplyTo, Mentions: in.Mentions,
		ClientReference: in.ClientReference, IdempotencyKey: in.IdempotencyKey,
	}
}

func sendMessagePayload(m *apiws.Message, ues []*apiws.Error) *model.SendMessagePayload {
	return &model.SendMessagePayload{Message: m, UserErrors: ues}
}

func numberPayload(n *apiws.Number, ues []*apiws.Error) *model.NumberPayload {
	return &model.NumberPayload{Number: n, UserErrors: ues}
}

func privacyRequestPayload(pr *apiws.PrivacyRequest, ues []*apiws.Error) *model.PrivacyRequestPayload {
	return &model.PrivacyRequestPayload{PrivacyRequest: pr, UserErrors: ues}
}

func debugCapturePayload(dc *apiws.DebugCapture, ues []*apiws.Error) *model.DebugCapturePayload {
	return &model.DebugCapturePayload{DebugCapture: dc, UserErrors: ues}
}

// personal answers v, a field of acc's personal data, when the caller may
// read the account (apiws.RequireRead): an account is reachable without
// READ (viewer { id }), its personal data is not.
func personal[T any](ctx context.Context, acc *apiws.Account, v T) (T, error) {
	if err := apiws.RequireRead(ctx, acc.ID); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// connection shapes one page of a list as a GraphQL connection. edge
// makes the edge of one item and returns its cursor; conn makes the
// connection of the edges.
func connection[T, E, C any](l apiws.List[T], edge func(T) (string, E), conn func([]E, *model.PageInfo, int) C) C {
	edges := make([]E, len(l.Items))
	end := ""
	for i, it := range l.Items {
		end, edges[i] = edge(it)
	}
	return conn(edges, pageInfo(l.More, end), l.Total)
}

func accountEdge(a *apiws.Account) (string, *model.AccountEdge) {
	return a.ID, &model.AccountEdge{Cursor: a.ID, Node: a}
}

func accountConnection(es []*model.AccountEdge, pi *model.PageInfo, total int) *model.AccountConnection {
	return &model.AccountConnection{Edges: es, PageInfo: pi, TotalCount: total}
}

func numberEdge(n *apiws.Number) (string, *model.NumberEdge) {
	return n.ID, &model.NumberEdge{Cursor: n.ID, Node: n}
}

func numberConnection(es []*model.NumberEdge, pi *model.PageInfo, total int) *model.NumberConnection {
	return &model.NumberConnection{Edges: es, PageInfo: pi, TotalCount: total}
}

func messageEdge(m *apiws.Message) (string, *model.MessageEdge) {
	return m.ID, &model.MessageEdge{Cursor: m.ID, Node: m}
}

func messageConnection(es []*model.MessageEdge, pi *model.PageInfo, total int) *model.MessageConnection {
	return &model.MessageConnection{Edges: es, PageInfo: pi, TotalCount: total}
}

func apiCallEdge(c *apiws.APICall) (string, *model.APICallEdge) {
	return c.ID, &model.APICallEdge{Cursor: c.ID, Node: c}
}

func apiCallConnection(es []*model.APICallEdge, pi *model.PageInfo, total int) *model.APICallConnection {
	return &model.APICallConnection{Edges: es, PageInfo: pi, TotalCount: total}
}

func planPayload(p *apiws.Plan, ues []*apiws.Error) *model.PlanPayload {
	return &model.PlanPayload{Plan: p, UserErrors: ues}
}

func invoiceEdge(inv *apiws.Invoice) (string, *model.InvoiceEdge) {
	return inv.ID, &model.InvoiceEdge{Cursor: inv.ID, Node: inv}
}

func invoiceConnection(es []*model.InvoiceEdge, pi *model.PageInfo, total int) *model.InvoiceConnection {
	return &model.InvoiceConnection{Edges: es, PageInfo: pi, TotalCount: total}
}

func webhookEndpointPayload(e *apiws.WebhookEndpoint, ues []*apiws.Error) *model.WebhookEndpointPayload {
	return &model.WebhookEndpointPayload{WebhookEndpoint: e, UserErrors: ues}
}

// secretPayload shapes the answer of a mutation that shows an endpoint's
// new secret (once).
func secretPayload(e *apiws.WebhookEndpoint, secret string, err error) (*model.WebhookSecretPayload, error) {
	ues, err := userErrors(err)
	if err != nil || len(ues) > 0 {
		return &model.WebhookSecretPayload{UserErrors: ues}, err
	}
	return &model.WebhookSecretPayload{WebhookEndpoint: e, Secret: &secret, UserErrors: ues}, nil
}

func webhookDeliveryEdge(d *apiws.WebhookDelivery) (string, *model.WebhookDeliveryEdge) {
	return d.ID, &model.WebhookDeliveryEdge{Cursor: d.ID, Node: d}
}

func webhookDeliveryConnection(es []*model.WebhookDeliveryEdge, pi *model.PageInfo, total int) *model.WebhookDeliveryConnection {
	return &model.WebhookDeliveryConnection{Edges: es, PageInfo: pi, TotalCount: total}
}

// nodeLoader loads the object with an id of one type for Query.node.
type nodeLoader func(ctx context.Context, id string) (model.Node, error)

// nodeLoaders maps each id prefix to the service read of its type. Each
// service answers NOT_FOUND for another account's object, like a missing
// one.
func nodeLoaders(svc Services) map[string]nodeLoader {
	return map[string]nodeLoader{
		apiws.PrefixAccount:         nodeOf(svc.Accounts.Account),
		apiws.PrefixAPIKey:          nodeOf(svc.Keys.APIKey),
		apiws.PrefixNumber:          nodeOf(svc.Numbers.Number),
		apiws.PrefixMessage:         nodeOf(svc.Messages.Message),
		apiws.PrefixDebugCapture:    nodeOf(svc.Messages.DebugCapture),
		apiws.PrefixPrivacyRequest:  nodeOf(svc.Privacy.Request),
		apiws.PrefixNotice:          nodeOf(svc.Privacy.Notice),
		apiws.PrefixAPICall:         nodeOf(svc.Usage.APICall),
		apiws.PrefixWebhookEndpoint: nodeOf(svc.Webhooks.Endpoint),
		apiws.PrefixWebhookDelivery: nodeOf(svc.Webhooks.Delivery),
		apiws.PrefixInvoice:         nodeOf(svc.Billing.Invoice),
		apiws.PrefixGroup:           nodeOf(svc.Groups.Group),
		apiws.PrefixSupportTicket:   nodeOf(svc.Support.Ticket),
	}
}

// nodeOf makes a service read a node loader: no typed nil inside the
// interface, and NOT_FOUND answers null (Query.node's contract).
func nodeOf[T any](read func(ctx context.Context, id string) (*T, error)) nodeLoader {
	return func(ctx context.Context, id string) (model.Node, error) {
		v, err := read(ctx, id)
		if err != nil {
			return notFoundAsNull(err)
		}
		if v == nil {
			return nil, nil
		}
		return v, nil
	}
}

// incomingMessage shows a MESSAGE_RECEIVED event as incomingMessages does:
// the message, and its content while in transit (empty after).
func incomingMessage(ev *apiws.LogEvent) *model.IncomingMessage {
	c := ev.Content
	if c == nil {
		c = &apiws.MessageContent{Mentions: []apiws.Peer{}}
	}
	return &model.IncomingMessage{MessageID: ev.MessageID, Text: c.Text, Media: c.Media, Content: c}
}

func groupPayload(g *apiws.Group, ues []*apiws.Error) *model.GroupPayload {
	return &model.GroupPayload{Group: g, UserErrors: ues}
}
