// Package pdftext reads back the text a PDF shows, for tests: it inflates
// the content streams (FlateDecode) and collects the strings of their
// text-showing operators (Tj). It reads what fpdf writes, not every PDF.
package pdftext

import (
	"bytes"
	"compress/zlib"
	"io"
	"regexp"
	"strings"
)

var (
	streamRE = regexp.MustCompile(`(?s)<<(.*?)>>\s*stream\r?\n(.*?)\r?\nendstream`)
	showRE   = regexp.MustCompile(`\(((?:\\.|[^\\)])*)\)\s*Tj`)
)

// Text returns the strings the PDF's pages show, one per line, in the
// order they are drawn.
func Text(pdf []byte) (string, error) {
	var lines []string
	for _, m := range streamRE.FindAllSubmatch(pdf, -1) {
		data := m[2]
		if bytes.Contains(m[1], []byte("/FlateDecode")) {
			r, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				return "", err
			}
			if data, err = io.ReadAll(r); err != nil {
				return "", err
			}
		}
		for _, s := range showRE.FindAllSubmatch(data, -1) {
			lines = append(lines, unescape(string(s[1])))
		}
	}
	return strings.Join(lines, "\n"), nil
}

// unescape undoes a PDF literal string's backslash escapes of
// parentheses and backslashes.
func unescape(s string) string {
	return strings.NewReplacer(`\(`, "(", `\)`, ")", `\\`, `\`).Replace(s)
}
