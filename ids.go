package apiws

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"math/bits"
	"strings"
	"sync"
	"time"
)

// Id prefixes, one per type reachable through Query.node.
const (
	PrefixAccount         = "acc"
	PrefixNumber          = "num"
	PrefixMessage         = "msg"
	PrefixAPIKey          = "key"
	PrefixPrivacyRequest  = "prq"
	PrefixAPICall         = "call"
	PrefixNotice          = "ntc"
	PrefixDebugCapture    = "dbg"
	PrefixSession         = "ses"
	PrefixOperatorKey     = "opk"
	PrefixWebhookEndpoint = "whe"
	PrefixWebhookDelivery = "whd"
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, and its order
// matches byte order, so ids sort by time as strings.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var idState struct {
	sync.Mutex
	lastMs uint64
	// hi and lo are the 80 bits after the timestamp of the last id.
	hi uint16
	lo uint64
}

// NewID returns a new id: the prefix, an underscore, and 26 base32
// characters holding a 48-bit millisecond timestamp and 80 bits that are
// random at each new millisecond and grow by a random step (1 to 2^48)
// within it. Ids sort by time, ids made by one process sort in creation
// order, and none can be guessed from another.
func NewID(prefix string) string {
	return newIDAt(prefix, time.Now())
}

func newIDAt(prefix string, now time.Time) string {
	ms := uint64(now.UnixMilli())
	idState.Lock()
	if ms <= idState.lastMs {
		// The same millisecond, or the clock went back: stay after the last
		// id.
		var r [8]byte
		_, _ = rand.Read(r[2:])
		step := binary.BigEndian.Uint64(r[:]) + 1
		lo, carry := bits.Add64(idState.lo, step, 0)
		if hi := uint32(idState.hi) + uint32(carry); hi <= math.MaxUint16 {
			idState.lo, idState.hi = lo, uint16(hi)
		} else {
			// 80 bits used up within one millisecond (only after about
			// 2^31 ids): borrow the next one.
			idState.lastMs++
			idState.hi, idState.lo = randomStart()
		}
	} else {
		idState.lastMs = ms
		idState.hi, idState.lo = randomStart()
	}
	hi := idState.lastMs<<16 | uint64(idState.hi)
	lo := idState.lo
	idState.Unlock()

	var sb strings.Builder
	sb.Grow(len(prefix) + 27)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	// 128 bits as 26 base32 digits, most significant first (the first digit
	// holds only 3 bits).
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

// randomStart draws the 80 bits of a millisecond's first id, the top one
// clear so that the steps after it have room to grow.
func randomStart() (uint16, uint64) {
	var r [10]byte
	_, _ = rand.Read(r[:])
	return binary.BigEndian.Uint16(r[0:2]) &^ (1 << 15), binary.BigEndian.Uint64(r[2:10])
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
