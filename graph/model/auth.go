package model

import "github.com/apiws/apiws"

// AuthPayload answers signUp, logIn and changePassword. Session is the
// caller of the session it made: the payload's account is resolved as that
// session sees it, not as the request's own credentials do.
type AuthPayload struct {
	Token      *string        `json:"token,omitempty"`
	Account    *apiws.Account `json:"account,omitempty"`
	UserErrors []*apiws.Error `json:"userErrors"`
	Session    *apiws.Caller  `json:"-"`
}
