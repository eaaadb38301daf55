package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/apiws/apiws"
)

// Exports hands out privacy exports to their owner.
type Exports interface {
	// Export returns the export of a privacy request of the caller's
	// account, or ENOTFOUND (also for another account's, or an expired one).
	Export(ctx context.Context, requestID string) ([]byte, error)
}

// export serves GET /exports/{id}: the JSON document of an ACCESS or
// PORTABILITY request, to the bearer of a session of its account. Another
// account's export answers 404, exactly like a missing one.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	if s.deps.Exports == nil {
		http.NotFound(w, r)
		return
	}
	content, err := s.deps.Exports.Export(r.Context(), r.PathValue("id"))
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		s.writeStatus(w, http.StatusNotFound, "not found")
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(content)))
	h.Set("Content-Disposition", `attachment; filename="apiws-export-`+r.PathValue("id")+`.json"`)
	// Personal data: no cache anywhere may keep a copy.
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(content)
}
