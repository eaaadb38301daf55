package resolvers

import (
	"errors"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/model"
)

// paymentPagePayload shapes the answer of a mutation that opens a page of
// the payment processor. Besides input problems, a server without a
// payment processor is a userError UNAVAILABLE (apiws.PaymentsUnavailable),
// not the request error of an outage.
func paymentPagePayload(url string, err error) (*model.PaymentPagePayload, error) {
	var e *apiws.Error
	if errors.As(err, &e) && e.IsPaymentsUnavailable() {
		return &model.PaymentPagePayload{UserErrors: []*apiws.Error{e}}, nil
	}
	ues, err := userErrors(err)
	if err != nil || len(ues) > 0 {
		return &model.PaymentPagePayload{UserErrors: ues}, err
	}
	return &model.PaymentPagePayload{URL: &url, UserErrors: ues}, nil
}
