package apiws

import (
	"reflect"
	"testing"
)

func TestListOf(t *testing.T) {
	tests := []struct {
		name  string
		items []string
		first int
		want  List[string]
	}{
		{"empty", nil, 2, List[string]{Total: 7}},
		{"fewer than asked", []string{"a"}, 2, List[string]{Items: []string{"a"}, Total: 7}},
		{"exactly asked", []string{"a", "b"}, 2, List[string]{Items: []string{"a", "b"}, Total: 7}},
		{"the extra one", []string{"a", "b", "c"}, 2, List[string]{Items: []string{"a", "b"}, More: true, Total: 7}},
		{"none asked, one there", []string{"a"}, 0, List[string]{Items: []string{}, More: true, Total: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ListOf(tt.items, Page{First: tt.first}, 7); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ListOf(%q, first %d) = %+v, want %+v", tt.items, tt.first, got, tt.want)
			}
		})
	}
}

func TestPageOneMore(t *testing.T) {
	p := Page{First: 20, After: "msg_x"}
	if got := p.OneMore(); got != (Page{First: 21, After: "msg_x"}) {
		t.Errorf("OneMore = %+v", got)
	}
	if p.First != 20 {
		t.Errorf("OneMore changed its receiver: %+v", p)
	}
}
