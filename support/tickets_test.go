package support

import (
	"strings"
	"testing"
)

var subjectTests = []struct {
	name, in, want string
	ok             bool
}{
	{"trimmed", "  Messages stay QUEUED \t", "Messages stay QUEUED", true},
	{"200 characters", strings.Repeat("é", 200), strings.Repeat("é", 200), true},
	{"empty", "", "", false},
	{"blank", " \t ", "", false},
	{"201 characters", strings.Repeat("é", 201), "", false},
	{"two lines", "one\ntwo", "", false},
	{"a control character", "bell\a", "", false},
}

func TestCheckSubject(t *testing.T) {
	for _, tt := range subjectTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkSubject(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("checkSubject(%.20q) = %q, %v", tt.in, got, err)
			}
			if err != nil && strings.Join(err.Field, ".") != "input.subject" {
				t.Errorf("field = %v", err.Field)
			}
		})
	}
}

var bodyTests = []struct {
	name, in, want string
	ok             bool
}{
	{"lines kept, ends trimmed", "\n  first line\nsecond line  \n", "first line\nsecond line", true},
	{"10,000 characters", strings.Repeat("ü", 10000), strings.Repeat("ü", 10000), true},
	{"empty", "", "", false},
	{"blank", "\n \n", "", false},
	{"10,001 characters", strings.Repeat("ü", 10001), "", false},
	{"not UTF-8", "caf\xe9", "", false},
}

func TestCheckBody(t *testing.T) {
	for _, tt := range bodyTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkBody(tt.in, []string{"body"})
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("checkBody(%.20q) = %.20q, %v", tt.in, got, err)
			}
			if err != nil && strings.Join(err.Field, ".") != "body" {
				t.Errorf("field = %v", err.Field)
			}
		})
	}
}
