package documents

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AllowList is the set of trusted documents: their hashes, each with its
// text when the list holds it ("" when it holds only the hash).
type AllowList map[string]string

// LoadAllowList reads the trusted documents from files, each in one of
// the forms code generators write:
//
//   - a JSON object of hash to document (GraphQL Code Generator's
//     persisted-documents.json, with hashAlgorithm sha256), the hash bare
//     or as a document id "sha256:<hash>";
//   - a JSON object {"operations": [{"query": "..."}, ...]} (genqlient's
//     export_operations), hashed here;
//   - text with one hash per line; blank lines and lines starting with #
//     are skipped.
//
// A hash that is not 64 hex digits, or that is not the hash of the
// document it names, is an error naming the file: a list that cannot be
// trusted whole is not used at all.
func LoadAllowList(files ...string) (AllowList, error) {
	list := AllowList{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := list.add(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: no documents", strings.Join(files, ", "))
	}
	return list, nil
}

func (l AllowList) add(raw []byte) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return l.addHashes(raw)
	}
	var exported struct {
		Operations []struct {
			Query string `json:"query"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(trimmed, &exported); err == nil && exported.Operations != nil {
		for i, op := range exported.Operations {
			if op.Query == "" {
				return fmt.Errorf("operation %d has no query", i)
			}
			l[Hash(op.Query)] = op.Query
		}
		return nil
	}
	var byHash map[string]string
	if err := json.Unmarshal(trimmed, &byHash); err != nil {
		return fmt.Errorf("neither hash to document nor exported operations: %w", err)
	}
	for key, doc := range byHash {
		// GraphQL Code Generator names documents by a prefixed hash (a
		// document id); the prefix says the algorithm.
		hash := strings.TrimPrefix(key, "sha256:")
		if !isHash(hash) {
			return fmt.Errorf("%q is not a SHA-256 hash in hex", key)
		}
		if Hash(doc) != hash {
			return fmt.Errorf("%s is not the SHA-256 of its document (sha1 or another hash algorithm?)", hash)
		}
		l[hash] = doc
	}
	return nil
}

func (l AllowList) addHashes(raw []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !isHash(line) {
			return fmt.Errorf("line %d: %q is not a SHA-256 hash in hex", n, line)
		}
		if _, ok := l[line]; !ok {
			l[line] = ""
		}
	}
	return sc.Err()
}
