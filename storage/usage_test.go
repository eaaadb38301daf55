package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

func TestUsageRollupsAddUp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "roll@example.com").ID
		h := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		one := apiws.UsageCounts{APICalls: 1, Errors: 1, Read: 2}
		one.Latency[3] = 1
		rows := []storage.UsageRow{
			{AccountID: acc, Period: storage.PeriodHour, Start: h, Counts: one},
			{AccountID: acc, Period: storage.PeriodHour, Start: h, Counts: one}, // merged with the first
			{AccountID: acc, Period: storage.PeriodHour, Start: h.Add(time.Hour), Counts: one},
		}
		if err := db.AddUsage(ctx, rows); err != nil {
			t.Fatal(err)
		}
		if err := db.AddUsage(ctx, rows[:1]); err != nil {
			t.Fatal(err)
		}
		got, err := db.UsageRows(ctx, acc, storage.PeriodHour, h, h.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got[0].Start.Equal(h) || got[0].Counts.APICalls != 3 || got[0].Counts.Read != 6 ||
			got[0].Counts.Latency[3] != 3 || got[1].Counts.APICalls != 1 {
			t.Fatalf("rows = %+v", got)
		}
		if got, _ := db.UsageRows(ctx, acc, storage.PeriodDay, h, h.Add(24*time.Hour)); len(got) != 0 {
			t.Fatalf("day rows from hour rows: %+v", got)
		}
	})
}

func TestAPICallsPageNewestFirstWithinTheAccount(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "calls@example.com").ID
		other := mustAccount(t, db, "other@example.com").ID
		at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		var calls []*apiws.APICall
		for i := 0; i < 5; i++ {
			c := &apiws.APICall{ID: apiws.NewID(apiws.PrefixAPICall), AccountID: acc, OperationType: "query",
				OperationName: ptr("Q"), Duration: time.Millisecond, OK: i != 2, At: at.Add(time.Duration(i) * time.Minute)}
			if i == 2 {
				c.ErrorCode = ptr("FORBIDDEN")
			}
			calls = append(calls, c)
		}
		calls = append(calls, &apiws.APICall{ID: apiws.NewID(apiws.PrefixAPICall), AccountID: other, OperationType: "query", OK: true, At: at})
		if err := db.WriteUsage(ctx, calls, nil); err != nil {
			t.Fatal(err)
		}
		page, more, total, err := db.APICalls(ctx, acc, apiws.Page{First: 2}, apiws.APICallFilter{})
		if err != nil || !more || total != 5 || len(page) != 2 || page[0].ID != calls[4].ID {
			t.Fatalf("first page = %v, %v, %d, %v", page, more, total, err)
		}
		page, more, _, _ = db.APICalls(ctx, acc, apiws.Page{First: 10, After: page[1].ID}, apiws.APICallFilter{})
		if more || len(page) != 3 || page[0].ID != calls[2].ID {
			t.Fatalf("second page = %v, %v", page, more)
		}
		if page[0].OK || page[0].ErrorCode == nil || *page[0].ErrorCode != "FORBIDDEN" || !page[0].At.Equal(calls[2].At) {
			t.Fatalf("failed call read back as %+v", page[0])
		}
		failed := false
		_, _, total, _ = db.APICalls(ctx, acc, apiws.Page{First: 10}, apiws.APICallFilter{OK: &failed})
		if total != 1 {
			t.Fatalf("%d failed calls; want 1", total)
		}
		since, until := at.Add(time.Minute), at.Add(3*time.Minute)
		_, _, total, _ = db.APICalls(ctx, acc, apiws.Page{First: 10}, apiws.APICallFilter{Since: &since, Until: &until})
		if total != 2 {
			t.Fatalf("%d calls in [since, until); want 2", total)
		}
		if _, err := db.APICall(ctx, acc, calls[5].ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("another account's call: %v", err)
		}
	})
}
