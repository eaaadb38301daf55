package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

func getSchema(h http.Handler, ifNoneMatch string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/graphql/schema.graphql", nil)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPublishedSchema(t *testing.T) {
	for _, production := range []bool{false, true} {
		t.Run(fmt.Sprintf("production=%v", production), func(t *testing.T) { testPublishedSchema(t, production) })
	}
}

func testPublishedSchema(t *testing.T, production bool) {
	{
		srv := newTestServer(t, Config{Production: production})
		rec := getSchema(srv, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("production=%v: status %d", production, rec.Code)
		}
		etag := rec.Header().Get("ETag")
		if len(etag) < 10 || etag[0] != '"' {
			t.Fatalf("ETag = %q", etag)
		}
		published, err := gqlparser.LoadSchema(&ast.Source{Name: "published", Input: rec.Body.String()})
		if err != nil {
			t.Fatalf("the published SDL does not load: %v", err)
		}
		assertContainsSchema(t, published, srv.deps.Schema.Schema())

		t.Run("the same version answers 304", func(t *testing.T) {
			for _, header := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
				if rec := getSchema(srv, header); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
					t.Fatalf("If-None-Match %s: %d with %d bytes", header, rec.Code, rec.Body.Len())
				}
			}
		})
		t.Run("another version gets the schema", func(t *testing.T) {
			if rec := getSchema(srv, `"0123"`); rec.Code != http.StatusOK || rec.Header().Get("ETag") != etag {
				t.Fatalf("stale If-None-Match: %d, ETag %q", rec.Code, rec.Header().Get("ETag"))
			}
		})
	}
}

// assertContainsSchema checks that every type, field, argument and enum
// value of want is in got with the same type.
func assertContainsSchema(t *testing.T, got, want *ast.Schema) {
	t.Helper()
	for name, def := range want.Types {
		if def.BuiltIn {
			continue
		}
		g := got.Types[name]
		if g == nil || g.Kind != def.Kind {
			t.Errorf("type %s missing or of another kind", name)
			continue
		}
		for _, f := range def.Fields {
			gf := g.Fields.ForName(f.Name)
			if gf == nil || gf.Type.String() != f.Type.String() {
				t.Errorf("field %s.%s missing or retyped", name, f.Name)
				continue
			}
			for _, a := range f.Arguments {
				if ga := gf.Arguments.ForName(a.Name); ga == nil || ga.Type.String() != a.Type.String() {
					t.Errorf("argument %s.%s(%s) missing or retyped", name, f.Name, a.Name)
				}
			}
		}
		for _, v := range def.EnumValues {
			if g.EnumValues.ForName(v.Name) == nil {
				t.Errorf("enum value %s.%s missing", name, v.Name)
			}
		}
	}
}
