package accounts

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"math/big"
	"strings"
)

// Token prefixes. A token says what it is, so the server can refuse a
// malformed one without a database query and a leaked one is recognisable
// (secret scanners match the prefix and verify the checksum).
const (
	apiKeyPrefix   = "apiws_"
	sessionPrefix  = "apiwss_"
	operatorPrefix = "apiwsop_"
)

const (
	base62      = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	randomLen   = 32 // 32 base62 digits: about 190 bits
	checksumLen = 6  // CRC32 in base62
)

// newToken returns prefix + random + checksum.
func newToken(prefix string) string {
	b := make([]byte, randomLen)
	max := big.NewInt(int64(len(base62)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		b[i] = base62[n.Int64()]
	}
	body := prefix + string(b)
	return body + checksum(body)
}

func checksum(body string) string {
	n := crc32.ChecksumIEEE([]byte(body))
	out := make([]byte, checksumLen)
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return string(out)
}

// tokenKind returns the prefix of a well-formed token, or "" when the token
// is malformed or its checksum does not match.
func tokenKind(tok string) string {
	var prefix string
	switch {
	case strings.HasPrefix(tok, operatorPrefix):
		prefix = operatorPrefix
	case strings.HasPrefix(tok, sessionPrefix):
		prefix = sessionPrefix
	case strings.HasPrefix(tok, apiKeyPrefix):
		prefix = apiKeyPrefix
	default:
		return ""
	}
	if len(tok) != len(prefix)+randomLen+checksumLen {
		return ""
	}
	for _, c := range tok[len(prefix):] {
		if !strings.ContainsRune(base62, c) {
			return ""
		}
	}
	body := tok[:len(tok)-checksumLen]
	if checksum(body) != tok[len(tok)-checksumLen:] {
		return ""
	}
	return prefix
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// displayPrefix is the part of a secret shown in lists to recognise it.
func displayPrefix(tok, prefix string) string {
	return tok[:len(prefix)+6]
}
