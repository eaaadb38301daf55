package apiws

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// MediaLink names the inbound file of one logged event, until Expires:
// what a media link (MediaInfo.URL) carries, signed.
type MediaLink struct {
	AccountID string
	// Seq is the cursor of the event that brought the file.
	Seq int64
	// Expires is when the file leaves transit (to the second).
	Expires time.Time
}

// MediaFile is an inbound file fetched from WhatsApp for a media link.
type MediaFile struct {
	MimeType string
	// FileName is the name the sender gave the file; empty if none.
	FileName string
	Data     []byte
}

// MediaFiles fetches inbound files for their media links.
type MediaFiles interface {
	// MediaFile fetches the file a media link's token names from WhatsApp.
	// A token that is not one apiws signed is EFORBIDDEN, and nothing is
	// fetched; one past its expiry, or whose file has left transit, is
	// EEXPIRED; a number that cannot fetch it now, ENOTCONNECTED or
	// EUNAVAILABLE.
	MediaFile(ctx context.Context, token string) (*MediaFile, error)
}

// MediaPath is the path of media links, before their token.
const MediaPath = "/media/"

// mediaLinkPurpose names the key media links are signed with (DeriveKey).
const mediaLinkPurpose = "apiws media links v1: HMAC-SHA256"

// mediaTokenVersion is a token's first byte: the layout that follows it.
const mediaTokenVersion = 1

// mediaTokenHead is the length of a token's fixed fields: the version, the
// expiry and the cursor.
const mediaTokenHead = 1 + 8 + 8

// mediaToken is the encoding of tokens: strict, so that no two strings
// decode to the same bytes.
var mediaToken = base64.RawURLEncoding.Strict()

// MediaLinks signs media links and checks them: a link is the public URL,
// MediaPath and a token, the base64url of a version byte, the expiry (Unix
// seconds) and the cursor (8 bytes each, big-endian), the account id, and
// an HMAC-SHA256 of all of it under a key derived from the secret key for
// this purpose alone. The signature is the credential, as in a presigned
// URL: whoever holds a link may fetch its file until it expires.
type MediaLinks struct {
	key  []byte
	base string
}

// NewMediaLinks returns the media links of a deployment at publicURL (its
// scheme, host and any path prefix), signed with a key derived from secret
// (32 bytes).
func NewMediaLinks(secret []byte, publicURL string) (*MediaLinks, error) {
	if len(secret) != 32 {
		return nil, errors.New("the secret key must be 32 bytes")
	}
	return &MediaLinks{key: DeriveKey(secret, mediaLinkPurpose), base: strings.TrimSuffix(publicURL, "/")}, nil
}

// URL returns the link of l.
func (m *MediaLinks) URL(l MediaLink) string { return m.base + MediaPath + m.Token(l) }

// Token returns the signed token of l.
func (m *MediaLinks) Token(l MediaLink) string {
	b := make([]byte, 0, mediaTokenHead+len(l.AccountID)+sha256.Size)
	b = append(b, mediaTokenVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Expires.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(l.Seq))
	b = append(b, l.AccountID...)
	return mediaToken.EncodeToString(m.sign(b))
}

// sign appends the signature of b to it.
func (m *MediaLinks) sign(b []byte) []byte {
	mac := hmac.New(sha256.New, m.key)
	mac.Write(b)
	return mac.Sum(b)
}

// Open returns the link a token names, if apiws signed it (else EFORBIDDEN)
// and it has not expired at now (else EEXPIRED).
func (m *MediaLinks) Open(token string, now time.Time) (MediaLink, error) {
	forbidden := Errorf(EFORBIDDEN, "this media link is not valid")
	b, err := mediaToken.DecodeString(token)
	if err != nil || len(b) <= mediaTokenHead+sha256.Size || b[0] != mediaTokenVersion {
		return MediaLink{}, forbidden
	}
	signed := b[:len(b)-sha256.Size]
	// Capped, so that sign appends the signature to a copy.
	if !hmac.Equal(m.sign(signed[:len(signed):len(signed)]), b) {
		return MediaLink{}, forbidden
	}
	l := MediaLink{
		Expires:   time.Unix(int64(binary.BigEndian.Uint64(signed[1:9])), 0).UTC(),
		Seq:       int64(binary.BigEndian.Uint64(signed[9:17])),
		AccountID: string(signed[mediaTokenHead:]),
	}
	if !now.Before(l.Expires) {
		return MediaLink{}, Errorf(EEXPIRED, "this media link expired at %s", l.Expires.Format(TimeLayout))
	}
	return l, nil
}
