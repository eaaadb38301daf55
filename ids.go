package apiws

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

// Id prefixes, one per type reachable through Query.node.
const (
	PrefixAccount        = "acc"
	PrefixNumber         = "num"
	PrefixMessage        = "msg"
	PrefixAPIKey         = "key"
	PrefixPrivacyRequest = "prq"
	PrefixAPICall        = "call"
	PrefixNotice         = "ntc"
	PrefixDebugCapture   = "dbg"
	PrefixSession        = "ses"
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, and its order
// matches byte order, so ids sort by time as strings.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var idState struct {
	sync.Mutex
	lastMs uint64
	seq    uint64
}

// NewID returns a new id: the prefix, an underscore, and 26 base32
// characters holding a 48-bit millisecond timestamp and a 64-bit sequence that
// starts at a random value each millisecond and counts up within it, so ids made by one process sort
// in creation order.
func NewID(prefix string) string {
	return newIDAt(prefix, time.Now())
}

func newIDAt(prefix string, now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	idState.Lock()
	if ms <= idState.lastMs {
		ms = idState.lastMs
		idState.seq++
	} else {
		idState.lastMs = ms
		var r [8]byte
		_, _ = rand.Read(r[:])
		// Leave headroom so seq can grow without overflowing in one ms.
		idState.seq = binary.BigEndian.Uint64(r[:]) >> 2
	}
	seq := idState.seq
	idState.Unlock()

	binary.BigEndian.PutUint64(b[0:8], ms<<16)
	binary.BigEndian.PutUint64(b[8:16], seq)

	var sb strings.Builder
	sb.Grow(len(prefix) + 27)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	// 128 bits as 26 base32 digits, most significant first (the first digit
	// holds only 3 bits).
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	for i := 25; i >= 0; i-- {
		shift := uint(i * 5)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift > 59:
			v = lo>>shift | hi<<(64-shift)
		default:
			v = lo >> shift
		}
		sb.WriteByte(crockford[v&31])
	}
	return sb.String()
}

// IDPrefix returns the type prefix of id ("" when id has none).
func IDPrefix(id string) string {
	i := strings.IndexByte(id, '_')
	if i <= 0 {
		return ""
	}
	return id[:i]
}

// ValidID reports whether id is well-formed and of the given prefix.
func ValidID(id, prefix string) bool {
	if len(id) != len(prefix)+27 || !strings.HasPrefix(id, prefix+"_") {
		return false
	}
	for _, c := range id[len(prefix)+1:] {
		if !strings.ContainsRune(crockford, c) {
			return false
		}
	}
	return true
}
