package storage

import (
	"context"
	"strings"

	"github.com/uptrace/bun"
)

// whatsmeow, the WhatsApp library, keeps its tables in apiws's database
// (see the whatsapp package). Most of a device's rows go with its
// whatsmeow_device row through ON DELETE CASCADE; these functions delete
// the rest.

// LearnLIDs records that the WhatsApp device ourJID learned the phone
// numbers behind lids (WhatsApp's hidden user ids, whose mapping whatsmeow
// keeps in whatsmeow_lid_map, shared by all devices), so that the mapping
// can be deleted once no device that learned it is left.
func (db *DB) LearnLIDs(ctx context.Context, ourJID string, lids []string) error {
	if len(lids) == 0 {
		return nil
	}
	rows := make([]learnedLID, len(lids))
	for i, lid := range lids {
		rows[i] = learnedLID{OurJID: ourJID, LID: lid}
	}
	_, err := db.Bun.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx)
	return translate(err)
}

type learnedLID struct {
	bun.BaseModel `bun:"table:wa_learned_lids"`
	OurJID        string `bun:"our_jid,pk"`
	LID           string `bun:"lid,pk"`
}

// ForgetWhatsAppDevice deletes everything whatsmeow keeps for the device
// jid: its device row (and with it its keys, sessions and the rest), its
// privacy tokens (which have no foreign key), its own LID mapping and the
// LID mappings that only it learned. A device already gone is no error.
func (db *DB) ForgetWhatsAppDevice(ctx context.Context, jid string) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return forgetDevice(ctx, tx, jid)
	})
}

func forgetDevice(ctx context.Context, tx bun.Tx, jid string) error {
	if _, err := tx.NewRaw("DELETE FROM whatsmeow_device WHERE jid = ?", jid).Exec(ctx); err != nil {
		return err
	}
	if _, err := tx.NewRaw("DELETE FROM whatsmeow_privacy_tokens WHERE our_jid = ?", jid).Exec(ctx); err != nil {
		return err
	}
	// The device's own number: "15550123456:7@s.whatsapp.net".
	if own, _, _ := strings.Cut(jid, "@"); own != "" {
		own, _, _ = strings.Cut(own, ":")
		if _, err := tx.NewRaw("DELETE FROM whatsmeow_lid_map WHERE pn = ?", own).Exec(ctx); err != nil {
			return err
		}
	}
	_, err := tx.NewRaw(`DELETE FROM whatsmeow_lid_map WHERE lid IN (
		SELECT lid FROM wa_learned_lids WHERE our_jid = ?) AND lid NOT IN (
		SELECT lid FROM wa_learned_lids WHERE our_jid <> ?)`, jid, jid).Exec(ctx)
	if err != nil {
		return err
	}
	_, err = tx.NewRaw("DELETE FROM wa_learned_lids WHERE our_jid = ?", jid).Exec(ctx)
	return err
}
