package server

import (
	"mime"
	"net/http"
	"strconv"

	"github.com/apiws/apiws"
)

// media serves GET /media/{token}: an inbound file, fetched from WhatsApp
// as it is asked for, to whoever holds its signed link (the signature is
// the credential, as in a presigned URL). A link apiws did not sign
// answers 403 and fetches nothing; an expired one, or one whose file left
// transit, 410.
func (s *Server) media(w http.ResponseWriter, r *http.Request) {
	if s.deps.Media == nil {
		http.NotFound(w, r)
		return
	}
	f, err := s.deps.Media.MediaFile(r.Context(), r.PathValue("token"))
	switch apiws.ErrorCodeOf(err) {
	case "":
	case apiws.EFORBIDDEN:
		s.writeStatus(w, http.StatusForbidden, apiws.ErrorMessage(err))
		return
	case apiws.EEXPIRED:
		s.writeStatus(w, http.StatusGone, apiws.ErrorMessage(err))
		return
	case apiws.ENOTCONNECTED:
		s.writeStatus(w, http.StatusServiceUnavailable, apiws.ErrorMessage(err))
		return
	default:
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	// The type is the sender's word: a malformed one is served as bytes,
	// and none is rendered as a page of apiws's origin.
	contentType := "application/octet-stream"
	if _, _, err := mime.ParseMediaType(f.MimeType); err == nil {
		contentType = f.MimeType
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(f.Data)))
	// The file is the sender's: no cache anywhere may keep a copy.
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	disposition := "attachment"
	if f.FileName != "" {
		if d := mime.FormatMediaType("attachment", map[string]string{"filename": f.FileName}); d != "" {
			disposition = d
		}
	}
	h.Set("Content-Disposition", disposition)
	_, _ = w.Write(f.Data)
}
