package whatsapp

import (
	"context"
	"database/sql"
	"fmt"

	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// DeviceData is what the whatsmeow connector needs of apiws's database
// beyond whatsmeow's own tables (storage.DB implements it).
type DeviceData interface {
	// UnderMigrationLock runs fn under the lock schema migrations take:
	// whatsmeow upgrades its tables without a lock of its own.
	UnderMigrationLock(ctx context.Context, fn func(ctx context.Context) error) error
	// LearnLIDs records that the device ourJID learned the phone numbers
	// behind lids, whose mapping whatsmeow shares among all devices.
	LearnLIDs(ctx context.Context, ourJID string, lids []string) error
	// ForgetWhatsAppDevice deletes all whatsmeow keeps of the device jid,
	// including the rows no foreign key ties to it.
	ForgetWhatsAppDevice(ctx context.Context, jid string) error
}

// openDeviceStore keeps whatsmeow's device keys in db, next to apiws's own
// tables, creating or upgrading whatsmeow's tables (under data's migration
// lock when data is set). dialect is "postgres" (pgx's stdlib driver) or
// "sqlite" (modernc.org/sqlite). A SQLite db must have foreign keys on for
// every pooled connection ("file:apiws.db?_pragma=foreign_keys(1)"):
// whatsmeow deletes a device's keys through ON DELETE CASCADE and refuses
// to start without them.
func openDeviceStore(ctx context.Context, db *sql.DB, dialect string, log waLog.Logger, data DeviceData) (*devices, error) {
	var name string
	switch dialect {
	case "postgres", "pgx":
		name = "postgres"
	case "sqlite", "sqlite3":
		name = "sqlite"
	default:
		// sqlstore.NewWithDB panics on a dialect it does not know.
		return nil, fmt.Errorf("whatsapp device store: unsupported dialect %q (want postgres or sqlite)", dialect)
	}
	if log == nil {
		log = waLog.Noop
	}
	c := sqlstore.NewWithDB(db, name, log)
	upgrade := c.Upgrade
	if data != nil {
		upgrade = func(ctx context.Context) error { return data.UnderMigrationLock(ctx, c.Upgrade) }
	}
	if err := upgrade(ctx); err != nil {
		return nil, fmt.Errorf("whatsapp device store: upgrade: %w", err)
	}
	return &devices{Container: c, data: data}, nil
}

// devices is whatsmeow's device container with apiws's rules on what a
// device keeps. whatsmeow stores much about third parties (the phone's
// address-book names, push names, chat settings, message secrets); apiws
// needs none of it, so those stores are whatsmeow's no-op store. What it
// must keep (keys, sessions, privacy tokens, LID mappings) is deleted with
// the device, the rows no foreign key ties to it included.
type devices struct {
	*sqlstore.Container
	data DeviceData
}

var _ store.DeviceContainer = (*devices)(nil)

// discarded is whatsmeow's no-op store, answering every read with nothing.
var discarded = &store.NoopStore{}

// NewDevice returns a new device to pair, under apiws's rules.
func (d *devices) NewDevice() *store.Device {
	dev := d.Container.NewDevice()
	dev.Container = d
	return dev
}

// GetDevice loads a paired device, under apiws's rules; nil if it is gone.
func (d *devices) GetDevice(ctx context.Context, jid types.JID) (*store.Device, error) {
	dev, err := d.Container.GetDevice(ctx, jid)
	if dev != nil {
		d.adopt(dev)
	}
	return dev, err
}

// PutDevice saves the device. whatsmeow sets up a device's stores on its
// first save (at pairing), so apiws's rules are applied again after it.
func (d *devices) PutDevice(ctx context.Context, dev *store.Device) error {
	if err := d.Container.PutDevice(ctx, dev); err != nil {
		return err
	}
	d.adopt(dev)
	return nil
}

// DeleteDevice deletes the device and everything kept for it, however
// whatsmeow came to delete it (a logout, a ban).
func (d *devices) DeleteDevice(ctx context.Context, dev *store.Device) error {
	if dev.ID == nil {
		return sqlstore.ErrDeviceIDMustBeSet
	}
	jid := dev.ID.String()
	if err := d.Container.DeleteDevice(ctx, dev); err != nil {
		return err
	}
	if d.data != nil {
		if err := d.data.ForgetWhatsAppDevice(ctx, jid); err != nil {
			return fmt.Errorf("forget device %s: %w", jid, err)
		}
	}
	return nil
}

// adopt applies apiws's rules to an initialised device.
func (d *devices) adopt(dev *store.Device) {
	dev.Container = d
	if !dev.Initialized {
		return
	}
	dev.Contacts, dev.ChatSettings, dev.MsgSecrets = discarded, discarded, discarded
	if _, ok := dev.LIDs.(*learningLIDs); !ok && d.data != nil && dev.ID != nil {
		dev.LIDs = &learningLIDs{LIDStore: dev.LIDs, ourJID: dev.ID.String(), data: d.data}
	}
}

// learningLIDs is the shared LID map, recording which device learned each
// mapping so that a mapping goes with the last device that learned it.
type learningLIDs struct {
	store.LIDStore
	ourJID string
	data   DeviceData
}

func (l *learningLIDs) PutLIDMapping(ctx context.Context, lid, pn types.JID) error {
	if err := l.LIDStore.PutLIDMapping(ctx, lid, pn); err != nil {
		return err
	}
	return l.data.LearnLIDs(ctx, l.ourJID, []string{lid.User})
}

func (l *learningLIDs) PutManyLIDMappings(ctx context.Context, mappings []store.LIDMapping) error {
	if err := l.LIDStore.PutManyLIDMappings(ctx, mappings); err != nil {
		return err
	}
	lids := make([]string, 0, len(mappings))
	for _, m := range mappings {
		if m.LID.Server == types.HiddenUserServer {
			lids = append(lids, m.LID.User)
		}
	}
	return l.data.LearnLIDs(ctx, l.ourJID, lids)
}
