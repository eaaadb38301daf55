package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/apiws/apiws"
)

// Invoices hands out invoices' PDFs.
type Invoices interface {
	// InvoicePDF renders an invoice of the caller's account (any, for an
	// operator), or answers ENOTFOUND (also for another account's).
	InvoicePDF(ctx context.Context, id string) ([]byte, error)
}

// invoicePDF serves GET /invoices/{id}.pdf to the invoice's account (a
// session, or a key with READ) and to operators: 401 without credentials,
// 404 for another account's invoice, exactly like a missing one.
func (s *Server) invoicePDF(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".pdf")
	if s.deps.Invoices == nil || !ok || !apiws.ValidID(id, apiws.PrefixInvoice) {
		s.writeStatus(w, http.StatusNotFound, "not found")
		return
	}
	content, err := s.deps.Invoices.InvoicePDF(r.Context(), id)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		s.writeStatus(w, http.StatusNotFound, "not found")
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Length", strconv.Itoa(len(content)))
	h.Set("Content-Disposition", `inline; filename="`+id+`.pdf"`)
	h.Set("Cache-Control", "private, no-store")
	_, _ = w.Write(content)
}
