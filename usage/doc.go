// Package usage records API calls, keeps the usage rollups, and enforces
// quotas and rate limits.
//
// The server hands every operation of an account to Service.RecordCall,
// which only queues it; Service.Run writes calls in batches together with
// their counts in the hour and day rollups, and writes what is left when it
// stops. Usage questions read the rollups only.
//
// The messaging service uses two methods:
//
//	// before queueing a message; EQUOTAEXCEEDED on ["input"] when the month is used up
//	CheckQuota(ctx, accountID) error
//	// after queueing (status QUEUED: counts as accepted, towards the quota)
//	// and on each status reached: SENT, DELIVERED, READ, FAILED, RECEIVED
//	RecordMessage(ctx, accountID, status, at) error
//
// Privacy: nothing here produces a statistic across accounts. Rows of an
// account that objected to analytics or whose processing is restricted are
// still written (they serve billing, quotas and security) and shown to the
// account itself. A cross-account aggregate added later must join accounts
// and leave out those with analytics_objected or processing_restricted set;
// the Prometheus metrics here carry no account label.
package usage
