package privacy

import (
	"fmt"

	"github.com/apiws/apiws"
)

// ProcessingNotice is what an ACCESS export adds to the data: why apiws
// processes it, who receives it, and how long it is kept (the privacy
// policy's answers, from the same constants the code enforces).
type ProcessingNotice struct {
	Purposes   []Purpose       `json:"purposes"`
	Recipients []string        `json:"recipients"`
	Retention  []RetentionRule `json:"retention"`
	Source     string          `json:"source"`
	Rights     []string        `json:"rights"`
}

// Purpose is one reason data is processed, with its legal basis.
type Purpose struct {
	Purpose string   `json:"purpose"`
	Basis   string   `json:"basis"`
	Data    []string `json:"data"`
}

// RetentionRule says how long one kind of data is kept.
type RetentionRule struct {
	Data   string `json:"data"`
	Period string `json:"period"`
}

func processingNotice() *ProcessingNotice {
	return &ProcessingNotice{
		Purposes: []Purpose{
			{"Providing the service: accounts, WhatsApp numbers, sending and receiving messages", "contract",
				[]string{"account", "numbers", "messages (metadata only)", "apiKeys", "sessions"}},
			{"Billing, quotas and rate limits", "contract; legal obligation for invoices",
				[]string{"apiCalls", "messages (metadata only)", "invoices"}},
			{"Security: detecting abuse, keeping an audit log", "legitimate interest",
				[]string{"apiCalls", "sessions", "auditLog"}},
			{"Keeping your numbers linked to WhatsApp, as WhatsApp requires of a linked device: its keys and encryption sessions, " +
				"and of the people you message their privacy tokens and the phone numbers behind WhatsApp's hidden ids (LIDs); " +
				"the address-book names, push names, chat settings and message secrets WhatsApp sends the device are not stored",
				"contract", []string{"numbers (WhatsApp device data, not exported: keys and third parties' tokens)"}},
			{"Debugging with your permission", "consent (grantDebugCapture)", []string{"debugCaptures"}},
			{"Answering your support requests", "contract", []string{"supportTickets"}},
			{"Privacy rights and policy changes", "legal obligation",
				[]string{"privacyRequests", "consents", "notices"}},
			{"Service improvement (statistics across accounts); stops on objection or restriction", "legitimate interest",
				[]string{"apiCalls", "messages (metadata only)"}},
		},
		Recipients: []string{
			"WhatsApp (Meta Platforms) receives the messages you send, to deliver them",
			"the hosting provider of this apiws deployment (processor)",
			"the mail provider that delivers apiws's mail (processor)",
		},
		Retention: []RetentionRule{
			{"message content", "not stored beyond transmission: sent content is kept, encrypted, until WhatsApp reports it delivered " +
				"(at most 72 hours, 24 by default) to answer the recipient's retry requests; under a debug capture until its end (30 days at most)"},
			{"WhatsApp device data (keys, sessions, privacy tokens, LID mappings)", "while the number is linked; deleted when it is logged out, removed or erased"},
			{"account data", fmt.Sprintf("until deletion plus %d days", int(apiws.ErasureGrace.Hours()/24))},
			{"API calls, message metadata and usage statistics", fmt.Sprintf("%d months", apiws.UsageRetentionMonths)},
			{"invoices and payments", fmt.Sprintf("%d years, pseudonymised after the account's deletion", apiws.FinancialRetentionYears)},
			{"privacy exports", fmt.Sprintf("%d days", int(apiws.ExportLifetime.Hours()/24))},
			{"dashboard sessions", "until they expire or you log out"},
		},
		Source: "you, and WhatsApp for delivery receipts and inbound messages",
		Rights: []string{"ACCESS", "RECTIFICATION", "ERASURE", "RESTRICTION", "PORTABILITY", "OBJECTION",
			"lodging a complaint with a supervisory authority"},
	}
}
