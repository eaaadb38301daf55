package server

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/apiws/apiws"
)

// SessionCookie is the cookie holding a dashboard session token, so the
// dashboard's scripts never see or store the token.
const SessionCookie = "apiws_session"

// RequestedWithHeader must accompany every request authenticated by the
// session cookie (websocket upgrades aside, which a browser cannot give
// headers and whose Origin is checked instead). A cross-site form cannot
// set a custom header, and a cross-site script would need a CORS preflight
// that apiws never grants, so a request carrying it came from a page of
// apiws's own origin (or an allowed one).
const RequestedWithHeader = "X-Requested-With"

// cookieCaller resolves the session cookie of a request without an
// Authorization header. No cookie, or one whose session has ended, leaves
// the caller anonymous (the dashboard then shows its login form); a cookie
// without RequestedWithHeader, or from an origin that may not use cookies,
// is EFORBIDDEN.
func (s *Server) cookieCaller(w http.ResponseWriter, r *http.Request) (*apiws.Caller, error) {
	anon, _ := s.callerFor(r, "")
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return anon, nil
	}
	if !s.checkOrigin(r) {
		return nil, apiws.Errorf(apiws.EFORBIDDEN, "this origin may not use the session cookie")
	}
	if !websocket.IsWebSocketUpgrade(r) && r.Header.Get(RequestedWithHeader) == "" {
		return nil, apiws.Errorf(apiws.EFORBIDDEN, "requests with the session cookie need the %s header", RequestedWithHeader)
	}
	c, err := s.callerFor(r, "Bearer "+ck.Value)
	if apiws.ErrorCodeOf(err) == apiws.EUNAUTHENTICATED || (err == nil && c.Kind != apiws.CredentialSession) {
		// The session ended (logged out, expired); forget it.
		http.SetCookie(w, s.sessionCookie(r, "", -1))
		return anon, nil
	}
	return c, err
}

// sessionCookie is the cookie carrying token; maxAge < 0 deletes it.
func (s *Server) sessionCookie(r *http.Request, token string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    token,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil || strings.HasPrefix(s.cfg.PublicURL, "https://"),
		SameSite: http.SameSiteStrictMode,
	}
}

// createSession is POST /session: given {"token": "<dashboard session
// token>"} it checks the token and sets it as the session cookie. It needs
// RequestedWithHeader and a JSON body, so a cross-site form cannot log a
// browser into someone else's account.
func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	if !s.sessionRequestAllowed(w, r) {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.writeStatus(w, http.StatusUnsupportedMediaType, "send the token as JSON: {\"token\": \"...\"}")
		return
	}
	var in struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || in.Token == "" {
		s.writeStatus(w, http.StatusBadRequest, "send the token as JSON: {\"token\": \"...\"}")
		return
	}
	c, err := s.callerFor(r, "Bearer "+in.Token)
	if err == nil && c.Kind != apiws.CredentialSession {
		err = apiws.Errorf(apiws.EFORBIDDEN, "only a dashboard session token may be kept in the cookie")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	http.SetCookie(w, s.sessionCookie(r, in.Token, int(s.cfg.SessionTTL.Seconds())))
	writeSession(w, true)
}

// deleteSession is DELETE /session: it removes the cookie. Ending the
// session itself is the logOut mutation's job.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	if !s.sessionRequestAllowed(w, r) {
		return
	}
	http.SetCookie(w, s.sessionCookie(r, "", -1))
	writeSession(w, false)
}

// writeSession answers a session request with {"session": active}; a body,
// rather than 204, because some browsers report a bodiless fetch response
// to their devtools as aborted.
func writeSession(w http.ResponseWriter, active bool) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]bool{"session": active})
}

func (s *Server) sessionRequestAllowed(w http.ResponseWriter, r *http.Request) bool {
	var err error
	switch {
	case !s.checkOrigin(r):
		err = apiws.Errorf(apiws.EFORBIDDEN, "this origin may not use the session cookie")
	case r.Header.Get(RequestedWithHeader) == "":
		err = apiws.Errorf(apiws.EFORBIDDEN, "send the %s header", RequestedWithHeader)
	}
	if err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}
