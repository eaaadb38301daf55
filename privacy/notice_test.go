package privacy

import (
	"strings"
	"testing"
)

// TestNoticeDisclosesWhatsAppDeviceData: what whatsmeow keeps in apiws's
// database for a linked number (some of it about third parties) is named
// in the export's processing notice, with how long it is kept.
func TestNoticeDisclosesWhatsAppDeviceData(t *testing.T) {
	n := processingNotice()
	var purpose, retention bool
	for _, p := range n.Purposes {
		if strings.Contains(p.Purpose, "privacy tokens") && strings.Contains(p.Purpose, "not stored") {
			purpose = true
		}
	}
	for _, r := range n.Retention {
		if strings.Contains(r.Data, "WhatsApp device data") && strings.Contains(r.Period, "removed") {
			retention = true
		}
	}
	if !purpose || !retention {
		t.Errorf("WhatsApp device data disclosed: purpose %v, retention %v", purpose, retention)
	}
}
