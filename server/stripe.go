package server

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/apiws/apiws"
)

// StripeWebhooks handles the calls of the payment processor's webhook.
type StripeWebhooks interface {
	// HandleStripeWebhook handles one call: EINVALID when it is not a
	// signed, fresh event (nothing changed), nil when it was handled or
	// ignored.
	HandleStripeWebhook(ctx context.Context, payload []byte, signature string) error
}

// maxStripeEvent bounds a webhook call's body.
const maxStripeEvent = 1 << 20

// stripeWebhook serves POST /billing/stripe: 200 once the event is
// handled (or ignored), 400 for a call that is not a signed, fresh event,
// 500 when it could not be handled now (Stripe calls again).
func (s *Server) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	if s.deps.Stripe == nil {
		s.writeStatus(w, http.StatusNotFound, "not found")
		return
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStripeEvent))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		s.writeStatus(w, http.StatusRequestEntityTooLarge, "the event is too large")
		return
	} else if err != nil {
		s.writeStatus(w, http.StatusBadRequest, "the body could not be read")
		return
	}
	err = s.deps.Stripe.HandleStripeWebhook(r.Context(), payload, r.Header.Get("Stripe-Signature"))
	switch {
	case apiws.ErrorCodeOf(err) == apiws.EINVALID:
		s.writeStatus(w, http.StatusBadRequest, apiws.ErrorMessage(err))
	case err != nil:
		s.log.ErrorContext(r.Context(), "stripe webhook", "err", err)
		s.writeStatus(w, http.StatusInternalServerError, "internal error")
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"received":true}` + "\n"))
	}
}
