package documents

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	docA = "query A { __typename }"
	docB = "query B { __typename }"
)

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "list")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHash(t *testing.T) {
	// printf '%s' '{ __typename }' | sha256sum
	if got := Hash("{ __typename }"); got != "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b" {
		t.Fatalf("Hash = %s", got)
	}
}

var allowListTests = []struct {
	name    string
	content string
	want    AllowList
	err     string
}{
	{"hashes", "# comment\n\n" + Hash(docA) + "\n  " + Hash(docB) + "  \n", AllowList{Hash(docA): "", Hash(docB): ""}, ""},
	{"hash to document", `{"` + Hash(docA) + `": "` + docA + `"}`, AllowList{Hash(docA): docA}, ""},
	{"document ids", `{"sha256:` + Hash(docA) + `": "` + docA + `"}`, AllowList{Hash(docA): docA}, ""},
	{"another algorithm's document id", `{"sha1:` + Hash(docA) + `": "` + docA + `"}`, nil, "not a SHA-256"},
	{"exported operations", `{"operations": [{"operationName": "A", "query": "` + docA + `"}, {"query": "` + docB + `"}]}`,
		AllowList{Hash(docA): docA, Hash(docB): docB}, ""},
	{"upper-case hash", strings.ToUpper(Hash(docA)), nil, "line 1"},
	{"short hash", "abc123", nil, "not a SHA-256"},
	{"hash of another document", `{"` + Hash(docA) + `": "` + docB + `"}`, nil, "not the SHA-256 of its document"},
	{"sha1 key", `{"3b8d5a3ac1ab1ecd1b3b4d1e3a3f0b1c2d3e4f50": "` + docA + `"}`, nil, "not a SHA-256"},
	{"operation without query", `{"operations": [{"operationName": "A"}]}`, nil, "no query"},
	{"not JSON", `{"a": `, nil, "neither"},
	{"nothing", "# only a comment\n", nil, "no documents"},
}

func TestLoadAllowList(t *testing.T) {
	for _, tt := range allowListTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadAllowList(write(t, tt.content))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v; want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
			for h, doc := range tt.want {
				if d, ok := got[h]; !ok || d != doc {
					t.Fatalf("got %v; want %v", got, tt.want)
				}
			}
		})
	}
}

func TestLoadAllowListMergesFiles(t *testing.T) {
	got, err := LoadAllowList(write(t, Hash(docA)+"\n"), write(t, `{"`+Hash(docA)+`": "`+docA+`"}`), write(t, Hash(docA)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[Hash(docA)] != docA {
		t.Fatalf("merged = %v; want A with its text, whatever the order", got)
	}
	if _, err := LoadAllowList(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}
