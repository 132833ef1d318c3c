package auth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP per RFC 6238 as authenticator apps do it: SHA-1, 6 digits, 30 s.
const (
	totpPeriod = 30
	totpIssuer = "Tozalash"
)

var hotpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enrolment is a new TOTP secret as the user sees it.
type Enrolment struct {
	Secret     string // base32, for typing into an app
	OTPAuthURL string
	QRPNG      []byte
}

// NewEnrolment makes a 20-byte random secret for account.
func NewEnrolment(account string) (*Enrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: totpIssuer, AccountName: account, Period: totpPeriod, SecretSize: 20,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, err
	}
	return enrolmentOf(key)
}

// EnrolmentFor rebuilds the enrolment of an existing secret (a reload of the
// setup page shows the same QR code).
func EnrolmentFor(account, secret string) (*Enrolment, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: totpIssuer, AccountName: account, Period: totpPeriod, Secret: raw,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, err
	}
	return enrolmentOf(key)
}

func enrolmentOf(key *otp.Key) (*Enrolment, error) {
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return &Enrolment{Secret: key.Secret(), OTPAuthURL: key.URL(), QRPNG: buf.Bytes()}, nil
}

// QRBase64 is the QR code as base64, for JSON and data: URLs.
func (e *Enrolment) QRBase64() string { return base64.StdEncoding.EncodeToString(e.QRPNG) }

// MatchTOTP finds the time step whose code is code, accepting one step of
// skew either way. The caller stores the step and refuses any step not
// after the last one used, so a code works once.
func MatchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	current := now.Unix() / totpPeriod
	for _, s := range []int64{current - 1, current, current + 1} {
		if valid, err := hotp.ValidateCustom(code, uint64(s), secret, hotpOpts); err == nil && valid {
			return s, true
		}
	}
	return 0, false
}

// NewRecoveryCodes returns n single-use codes (80 random bits each) in the
// form xxxx-xxxx-xxxx-xxxx, and their hashes to store.
func NewRecoveryCodes(n int) (codes, hashes []string) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for i := 0; i < n; i++ {
		raw := make([]byte, 10)
		if _, err := rand.Read(raw); err != nil {
			panic(err)
		}
		s := strings.ToLower(enc.EncodeToString(raw)) // 16 characters
		code := s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
		codes = append(codes, code)
		hashes = append(hashes, HashRecoveryCode(code))
	}
	return codes, hashes
}

// HashRecoveryCode normalizes a typed code (case, spaces, dashes) and hashes
// it. 80 random bits need no slow hash.
func HashRecoveryCode(code string) string {
	code = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
	if len(code) == 16 {
		code = code[0:4] + "-" + code[4:8] + "-" + code[8:12] + "-" + code[12:16]
	}
	return Hash("recovery:" + code)
}

// SecretBox encrypts the TOTP secrets at rest (AES-256-GCM).
type SecretBox struct{ aead cipher.AEAD }

// NewSecretBox derives the key from keyMaterial (TOTP_KEY, else JWT_SECRET).
func NewSecretBox(keyMaterial []byte) (*SecretBox, error) {
	if len(keyMaterial) < 16 {
		return nil, errors.New("TOTP key material too short")
	}
	key := sha256.Sum256(append([]byte("tozalash totp secret v1\x00"), keyMaterial...))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead}, nil
}

// Seal encrypts plain; the result is base64 of nonce and ciphertext.
func (b *SecretBox) Seal(plain string) string {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(plain), nil))
}

// Open decrypts what Seal made.
func (b *SecretBox) Open(sealed string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("malformed sealed secret")
	}
	plain, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], nil)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}
