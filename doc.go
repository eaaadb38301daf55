// Package apiws is the domain of apiws, a multi-tenant WhatsApp API: the
// types, the rules that need nothing but the standard library, and the
// service interfaces that the rest of the tree implements or calls. It is
// the map of the product; every other package imports it and it imports
// none of them.
//
// # Who calls
//
// A request carries a [Caller] (see [CallerFrom]): a dashboard [Session], an
// [APIKey] with its [Scope]s, or an operator key. [RequireAccount],
// [RequireSession] and [RequireOperator] are the checks every service starts
// with; another account's object is ENOTFOUND, exactly like a missing one.
// Failures are [*Error] values with an [ErrorCode] (see [Errorf]); the codes
// for which IsUserError holds are the userErrors of a mutation's payload.
//
// # The product, service by service
//
//   - [AccountService]: sign-up, log-in, the [Account] and its
//     [BusinessDetails], [PolicyVersion]s and the [Consent]s to them.
//   - [KeyService]: bearer tokens to callers, [APIKey]s.
//   - [NumberService]: WhatsApp [Number]s of an account: pairing
//     ([PairingEvent]), connection status ([NumberStatusEvent]), removal.
//   - [MessageService]: sending ([SendMessage]) and listing [Message]s, the
//     message state machine ([Message.Step], [Message.ApplyReceipt]), status
//     streams of [LogEvent]s, [Incoming] messages in transit, and
//     [DebugCapture]s of content.
//   - [UsageService]: the [APICall] log, [UsageBucket] rollups, the [Plan]
//     and its [Quota]; a [Limiter] paces requests.
//   - [PrivacyService]: [PrivacyRequest]s (export, erasure, …), [Notice]s,
//     legal holds and policy publication.
//
// # Lists and events
//
// Every list method takes a [Page] and answers a [List]; a store reads
// [Page.OneMore] and [ListOf] trims it. Services publish [Event]s of an
// [EventKind] per account; subscriptions follow them.
//
// Identifiers are prefixed by their type (see [IDPrefix] and the Prefix
// constants), which is how Query.node finds an object's service.
package apiws
