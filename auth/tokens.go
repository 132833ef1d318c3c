package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Lifetimes of the credentials.
const (
	AccessTTL  = 15 * time.Minute
	SessionTTL = 30 * 24 * time.Hour // absolute lifetime of a refresh family
)

// AccessClaims are what an access token says: whose it is, which session it
// belongs to (revoking the session kills it) and the user's token version
// (bumping it kills every older token).
type AccessClaims struct {
	Type         string `json:"typ"`
	SessionID    string `json:"sid"`
	TokenVersion int    `json:"tv"`
	jwt.RegisteredClaims
}

// Tokens issues and checks access tokens with one HS256 key.
type Tokens struct {
	key    []byte
	parser *jwt.Parser

	// checked holds the access tokens whose signature and claims were
	// checked, by their exact text, until they expire: every signed-in
	// request presents one, and parsing it (base64, JSON, HMAC) was 15 %
	// of a quote's time. Only a token that passed the parser is held, so
	// nothing a client makes up takes room; a held token is still refused
	// once it expires. Bounded by maxChecked.
	mu      sync.RWMutex
	checked map[string]checkedToken

	now func() time.Time // the clock of exp and iat: time.Now but in tests
}

// checkedToken is what ParseAccess found in a token it checked.
type checkedToken struct {
	userID, sid  primitive.ObjectID
	tokenVersion int
	expires      time.Time
}

// maxChecked bounds the checked tokens held: beyond it, the expired ones
// go, or all when that frees less than a quarter (a token is then parsed
// again).
const maxChecked = 10_000

// NewTokens returns the token service for key (at least 32 bytes).
func NewTokens(key []byte) (*Tokens, error) {
	if len(key) < 32 {
		return nil, errors.New("JWT key shorter than 32 bytes")
	}
	t := &Tokens{key: key, checked: map[string]checkedToken{}, now: time.Now}
	// HS256 only, exp required: alg=none, RS/HS confusion and eternal
	// tokens are refused by the parser itself.
	t.parser = jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return t.now() }))
	return t, nil
}

// IssueAccess signs an access token for the user of session sid.
func (t *Tokens) IssueAccess(userID, sid primitive.ObjectID, tokenVersion int, now time.Time) (string, error) {
	claims := AccessClaims{
		Type:         "access",
		SessionID:    sid.Hex(),
		TokenVersion: tokenVersion,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID.Hex(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(AccessTTL)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
}

// ErrExpired means the token was good but is too old: a refresh may help.
var ErrExpired = errors.New("access token expired")

// ErrInvalidToken means the token is not one of ours.
var ErrInvalidToken = errors.New("invalid access token")

// ParseAccess checks an access token and returns who it names. With
// ErrExpired it still returns the session of an access token we signed (zero
// if it names none), for what is bound to the session beyond the token's
// 15 minutes: the CSRF token of the pages.
func (t *Tokens) ParseAccess(s string) (userID, sid primitive.ObjectID, tokenVersion int, err error) {
	t.mu.RLock()
	c, ok := t.checked[s]
	t.mu.RUnlock()
	if ok {
		if !t.now().Before(c.expires) { // as the parser judges exp
			return userID, c.sid, 0, ErrExpired
		}
		return c.userID, c.sid, c.tokenVersion, nil
	}
	userID, sid, tokenVersion, expires, err := t.parseAccess(s)
	if err == nil {
		t.hold(s, checkedToken{userID: userID, sid: sid, tokenVersion: tokenVersion, expires: expires})
	}
	return userID, sid, tokenVersion, err
}

// hold keeps a checked token, making room when the map is full.
func (t *Tokens) hold(s string, c checkedToken) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.checked) >= maxChecked {
		now := t.now()
		for k, v := range t.checked {
			if !now.Before(v.expires) {
				delete(t.checked, k)
			}
		}
		// Freed little: start again rather than scan at every new token.
		if len(t.checked) > maxChecked*3/4 {
			clear(t.checked)
		}
	}
	t.checked[strings.Clone(s)] = c // s may live in a request's reused buffer
}

// parseAccess is ParseAccess by the parser alone.
func (t *Tokens) parseAccess(s string) (userID, sid primitive.ObjectID, tokenVersion int, expires time.Time, err error) {
	var claims AccessClaims
	_, err = t.parser.ParseWithClaims(s, &claims, func(*jwt.Token) (any, error) { return t.key, nil })
	if errors.Is(err, jwt.ErrTokenExpired) {
		// The parser checked the signature before the claims.
		if claims.Type == "access" {
			sid, _ = primitive.ObjectIDFromHex(claims.SessionID)
		}
		return userID, sid, 0, expires, ErrExpired
	}
	if err != nil || claims.Type != "access" || claims.ExpiresAt == nil {
		return userID, sid, 0, expires, ErrInvalidToken
	}
	if userID, err = primitive.ObjectIDFromHex(claims.Subject); err != nil {
		return userID, sid, 0, expires, ErrInvalidToken
	}
	if sid, err = primitive.ObjectIDFromHex(claims.SessionID); err != nil {
		return userID, sid, 0, expires, ErrInvalidToken
	}
	return userID, sid, claims.TokenVersion, claims.ExpiresAt.Time, nil
}

// RandomSecret returns n random bytes, base64url-encoded.
func RandomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the OS has no randomness: nothing is safe
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash is how secrets sent by email or kept in cookies are stored: they are
// random and long, so a plain SHA-256 cannot be reversed.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Compound secrets carry the id of what they unlock, so finding it is an _id
// look-up: "<hex id>.<random>".

// NewCompound returns a new "<id>.<random>" secret (256 random bits).
func NewCompound(id primitive.ObjectID) (secret, hash string) {
	random := RandomSecret(32)
	return id.Hex() + "." + random, Hash(random)
}

// SplitCompound returns the id and the hash of the random part of a
// compound secret.
func SplitCompound(secret string) (primitive.ObjectID, string, bool) {
	idHex, random, ok := strings.Cut(secret, ".")
	if !ok || len(random) < 40 || len(random) > 64 {
		return primitive.NilObjectID, "", false
	}
	id, err := primitive.ObjectIDFromHex(idHex)
	if err != nil {
		return primitive.NilObjectID, "", false
	}
	return id, Hash(random), true
}
