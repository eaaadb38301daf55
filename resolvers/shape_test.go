package resolvers

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/model"
)

func TestPayload(t *testing.T) {
	acc := &apiws.Account{ID: "acc_1"}
	invalid := apiws.FieldError(apiws.EINVALID, []string{"input", "name"}, "is empty")
	broken := errors.New("database gone")
	tests := []struct {
		name    string
		err     error
		want    *model.AccountPayload
		wantErr error
	}{
		{"success", nil, &model.AccountPayload{Account: acc, UserErrors: []*apiws.Error{}}, nil},
		{"an input problem: userErrors, no account", invalid, &model.AccountPayload{UserErrors: []*apiws.Error{invalid}}, nil},
		{"several input problems", apiws.Errors{invalid, invalid}, &model.AccountPayload{UserErrors: []*apiws.Error{invalid, invalid}}, nil},
		{"anything else is the error", broken, &model.AccountPayload{}, broken},
		{"a code that is no user error is the error", apiws.Errorf(apiws.EFORBIDDEN, "no"), &model.AccountPayload{}, apiws.Errorf(apiws.EFORBIDDEN, "no")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := payload(accountPayload)(acc, tt.err)
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(err, tt.wantErr) {
				t.Errorf("payload = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestConnection(t *testing.T) {
	a, b := &apiws.Number{ID: "num_a"}, &apiws.Number{ID: "num_b"}
	end := "num_b"
	tests := []struct {
		name string
		list apiws.List[*apiws.Number]
		want *model.NumberConnection
	}{
		{"empty: edges not null, no end cursor", apiws.List[*apiws.Number]{Total: 3},
			&model.NumberConnection{Edges: []*model.NumberEdge{}, PageInfo: &model.PageInfo{}, TotalCount: 3}},
		{"a page with more", apiws.List[*apiws.Number]{Items: []*apiws.Number{a, b}, More: true, Total: 3},
			&model.NumberConnection{Edges: []*model.NumberEdge{{Cursor: "num_a", Node: a}, {Cursor: "num_b", Node: b}},
				PageInfo: &model.PageInfo{HasNextPage: true, EndCursor: &end}, TotalCount: 3}},
		{"the last page", apiws.List[*apiws.Number]{Items: []*apiws.Number{a, b}, Total: 2},
			&model.NumberConnection{Edges: []*model.NumberEdge{{Cursor: "num_a", Node: a}, {Cursor: "num_b", Node: b}},
				PageInfo: &model.PageInfo{EndCursor: &end}, TotalCount: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := connection(tt.list, numberEdge, numberConnection); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("connection = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNodeOf(t *testing.T) {
	n := &apiws.Number{ID: "num_a"}
	broken := errors.New("database gone")
	tests := []struct {
		name    string
		v       *apiws.Number
		err     error
		want    model.Node
		wantErr error
	}{
		{"found", n, nil, n, nil},
		{"not found (or another account's) is null", nil, apiws.Errorf(apiws.ENOTFOUND, "not found"), nil, nil},
		{"a nil answer is null, not a typed nil", nil, nil, nil, nil},
		{"other errors pass", nil, broken, nil, broken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			load := nodeOf(func(context.Context, string) (*apiws.Number, error) { return tt.v, tt.err })
			got, err := load(context.Background(), "num_a")
			if got != tt.want || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("node = %#v, %v; want %#v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
