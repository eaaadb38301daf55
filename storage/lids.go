package storage

import (
	"context"

	"github.com/apiws/apiws"
)

// FillHiddenPeers gives the phone to the number's messages whose peer
// WhatsApp hid behind the LID (peer_lid) and that have no phone yet, and
// returns how many it changed. Messages with a phone keep theirs.
func (db *DB) FillHiddenPeers(ctx context.Context, numberID, lid, phone string) (int, error) {
	res, err := db.Bun.NewUpdate().Model((*apiws.Message)(nil)).Set("peer = ?", phone).
		Where("number_id = ? AND peer_lid = ? AND peer = ''", numberID, lid).Exec(ctx)
	if err != nil {
		return 0, translate(err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
