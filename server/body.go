package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/apiws/apiws"
)

// Body limits: a media mutation of a caller that may send can carry up to
// maxBody; every other request up to maxPlainBody.
const (
	maxBody      = 32 << 20
	maxPlainBody = 1 << 20
)

// limitBody reads a request body up to its caller's limit and stops there:
// over it, HTTP 413 before anything runs. Only an account's caller holding
// the SEND scope may send more than maxPlainBody, and only for a mutation
// of mediaFields; the operation is parsed to tell.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		limit := int64(maxPlainBody)
		if c, err := apiws.RequireAccount(r.Context(), apiws.ScopeSend); err == nil && c != nil {
			limit = maxBody
		}
		tooLarge := func() {
			s.writeStatus(w, http.StatusRequestEntityTooLarge, "request body too large (1 MiB at most; 32 MiB for a media mutation with the SEND scope)")
		}
		if r.ContentLength > limit {
			tooLarge()
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			tooLarge()
			return
		case isTimeout(err):
			s.writeStatus(w, http.StatusRequestTimeout, "the request body was not sent in time")
			return
		case err != nil:
			s.writeStatus(w, http.StatusBadRequest, "could not read the request body")
			return
		case len(body) > maxPlainBody && !s.mediaMutation(body):
			tooLarge()
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// mediaMutation reports whether a GraphQL request body is one mutation
// that selects a field taking media.
func (s *Server) mediaMutation(body []byte) bool {
	var params struct {
		Query         string `json:"query"`
		OperationName string `json:"operationName"`
	}
	if err := json.Unmarshal(body, &params); err != nil {
		return false
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: params.Query}, maxTokens)
	if err != nil {
		return false
	}
	op := doc.Operations.ForName(params.OperationName)
	if op == nil && params.OperationName == "" && len(doc.Operations) == 1 {
		op = doc.Operations[0]
	}
	if op == nil || op.Operation != ast.Mutation {
		return false
	}
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok && s.mediaFields[f.Name] {
			return true
		}
	}
	return false
}

// mediaFieldsOf lists the mutation fields of a schema that take media: an
// argument whose input type holds a field of type MediaInput, at any depth.
func mediaFieldsOf(schema *ast.Schema) map[string]bool {
	fields := map[string]bool{}
	if schema == nil || schema.Mutation == nil {
		return fields
	}
	var holdsMedia func(t *ast.Type, seen map[string]bool) bool
	holdsMedia = func(t *ast.Type, seen map[string]bool) bool {
		name := t.Name()
		if name == "MediaInput" {
			return true
		}
		def := schema.Types[name]
		if def == nil || def.Kind != ast.InputObject || seen[name] {
			return false
		}
		seen[name] = true
		for _, f := range def.Fields {
			if holdsMedia(f.Type, seen) {
				return true
			}
		}
		return false
	}
	for _, f := range schema.Mutation.Fields {
		for _, a := range f.Arguments {
			if holdsMedia(a.Type, map[string]bool{}) {
				fields[f.Name] = true
			}
		}
	}
	return fields
}
