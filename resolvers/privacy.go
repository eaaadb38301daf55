package resolvers

import (
	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/model"
)

// privacyRequestPayload shapes a PrivacyRequestPayload from a service's
// answer.
func privacyRequestPayload(pr *apiws.PrivacyRequest, err error) (*model.PrivacyRequestPayload, error) {
	ues, err := userErrors(err)
	if err != nil || len(ues) > 0 {
		return &model.PrivacyRequestPayload{UserErrors: ues}, err
	}
	return &model.PrivacyRequestPayload{PrivacyRequest: pr, UserErrors: ues}, nil
}

// accountPayload shapes an AccountPayload from a service's answer.
func accountPayload(acc *apiws.Account, err error) (*model.AccountPayload, error) {
	ues, err := userErrors(err)
	if err != nil || len(ues) > 0 {
		return &model.AccountPayload{UserErrors: ues}, err
	}
	return &model.AccountPayload{Account: acc, UserErrors: ues}, nil
}
