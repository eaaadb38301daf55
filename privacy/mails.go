package privacy

import (
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// newMail makes an outbox mail to the account's email, due at once.
func newMail(acc *apiws.Account, subject, body string, at time.Time) *storage.OutgoingMail {
	return &storage.OutgoingMail{
		ID: apiws.NewID("mail"), AccountID: &acc.ID, To: acc.Email,
		Subject: subject, Body: body, CreatedAt: at, NextAttemptAt: at,
	}
}
