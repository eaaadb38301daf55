package storage

import (
	"database/sql"
	"reflect"
	"slices"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/apiws/apiws"
)

// The fixed-shape inserts write every column bun writes of their models:
// a field added to a model and not to its insert fails here.
func TestUnnestInsertsWriteEveryColumn(t *testing.T) {
	db := bun.NewDB(&sql.DB{}, pgdialect.New())
	for _, c := range []struct {
		model any
		cols  []string
	}{
		{apiws.Message{}, names(insertMessages.cols)},
		{OutboxItem{}, names(insertOutbox.cols)},
		{apiws.LogEvent{}, names(insertEvents.cols)},
		{Transit{}, names(insertTransit.cols)},
		{capturedContent{}, names(insertCaptured.cols)},
		{InboundTransit{}, names(insertInboundTransit.cols)},
	} {
		var want []string
		for _, f := range db.Table(reflect.TypeOf(c.model)).Fields {
			want = append(want, f.Name)
		}
		if !slices.Equal(c.cols, want) {
			t.Errorf("%T: the fixed-shape insert writes %v; bun writes %v", c.model, c.cols, want)
		}
	}
}

func names[T any](cols []arrayColumn[T]) []string {
	var out []string
	for _, c := range cols {
		out = append(out, c.name)
	}
	return out
}
