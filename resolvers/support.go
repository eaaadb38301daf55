package resolvers

import (
	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/model"
)

func supportTicketPayload(t *apiws.SupportTicket, ues []*apiws.Error) *model.SupportTicketPayload {
	return &model.SupportTicketPayload{SupportTicket: t, UserErrors: ues}
}
