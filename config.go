package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"tozalash/handlers"
)

// Config is everything the environment decides. loadConfig is the only place
// that reads it, so every other package takes plain values.
type Config struct {
	Addr            string
	BaseURL         string
	Env             string // development | production
	MongoURI        string // empty: embedded FerretDB under DataDir
	MongoDB         string
	DataDir         string
	JWTSecret       []byte
	TOTPKey         []byte // encrypts TOTP secrets at rest; empty: derived from JWTSecret
	RequireAdmin2FA bool
	SMTP            SMTPConfig
	AdminEmail      string
	AdminPassword   string
	TrustedProxies  []string
	AuthRateLimit   int
	MetricsToken    string // lets a scraper off this machine read /metrics
	LogLevel        string // debug | info | warn | error
	// AllowedOrigins: origins besides BASE_URL's the chat socket accepts
	// (the site under another name), normalized.
	AllowedOrigins []string
	Telegram       handlers.TelegramConfig // #24; no token: off
}

// SMTPConfig is where outgoing mail goes; an empty Host in development logs
// each email instead of sending it.
type SMTPConfig struct {
	Host     string
	Port     int
	User     string
	Password string
	From     string
}

// Production reports whether the app runs with production safeguards.
func (c Config) Production() bool { return c.Env == "production" }

// SecureCookies reports whether cookies must carry the Secure flag.
func (c Config) SecureCookies() bool {
	return c.Production() || strings.HasPrefix(c.BaseURL, "https://")
}

// configError names the variable at fault; main exits with code 2 for it.
type configError struct {
	name, msg string
}

func (e *configError) Error() string { return fmt.Sprintf("config: %s: %s", e.name, e.msg) }

var webhookSecret = regexp.MustCompile(`^[A-Za-z0-9_-]{24,256}$`)

func loadConfig(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Addr:          get("ADDR", ":3000"),
		BaseURL:       strings.TrimRight(get("BASE_URL", "http://localhost:3000"), "/"),
		Env:           get("APP_ENV", "development"),
		MongoURI:      get("MONGODB_URI", ""),
		MongoDB:       get("MONGODB_DB", "tozalash"),
		DataDir:       get("DATA_DIR", "./data"),
		AdminEmail:    strings.ToLower(get("ADMIN_EMAIL", "")),
		AdminPassword: getenv("ADMIN_PASSWORD"),
		LogLevel:      strings.ToLower(get("LOG_LEVEL", "info")),
		SMTP: SMTPConfig{
			Host:     get("SMTP_HOST", ""),
			User:     get("SMTP_USER", ""),
			Password: getenv("SMTP_PASSWORD"),
			From:     get("SMTP_FROM", "Tozalash <no-reply@localhost>"),
		},
	}

	if c.Env != "development" && c.Env != "production" {
		return c, &configError{"APP_ENV", fmt.Sprintf("%q is not development or production", c.Env)}
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, &configError{"BASE_URL", fmt.Sprintf("%q is not an absolute http(s) URL", c.BaseURL)}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return c, &configError{"LOG_LEVEL", fmt.Sprintf("%q is not debug, info, warn or error", c.LogLevel)}
	}
	var err error
	if c.SMTP.Port, err = intVar(get, "SMTP_PORT", 587, 1, 65535); err != nil {
		return c, err
	}
	if c.AuthRateLimit, err = intVar(get, "AUTH_RATE_LIMIT", 10, 1, 100000); err != nil {
		return c, err
	}
	for _, p := range strings.Split(get("TRUSTED_PROXIES", ""), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	for _, o := range strings.Split(get("ALLOWED_ORIGINS", ""), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		norm, err := handlers.ParseOrigin(o)
		if err != nil {
			return c, &configError{"ALLOWED_ORIGINS", err.Error()}
		}
		c.AllowedOrigins = append(c.AllowedOrigins, norm)
	}
	c.MetricsToken = strings.TrimSpace(getenv("METRICS_TOKEN"))
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return c, &configError{"METRICS_TOKEN", "must be at least 16 characters"}
	}
	if s := getenv("JWT_SECRET"); s != "" {
		if len(s) < 32 {
			return c, &configError{"JWT_SECRET", "must be at least 32 bytes"}
		}
		c.JWTSecret = []byte(s)
	}
	if s := getenv("TOTP_KEY"); s != "" {
		if len(s) < 32 {
			return c, &configError{"TOTP_KEY", "must be at least 32 bytes"}
		}
		c.TOTPKey = []byte(s)
	}
	switch v := strings.ToLower(get("REQUIRE_ADMIN_2FA", "false")); v {
	case "true", "1", "yes":
		c.RequireAdmin2FA = true
	case "false", "0", "no":
	default:
		return c, &configError{"REQUIRE_ADMIN_2FA", fmt.Sprintf("%q is not true or false", v)}
	}
	c.Telegram = handlers.TelegramConfig{
		Token:         strings.TrimSpace(getenv("TELEGRAM_BOT_TOKEN")),
		Username:      strings.TrimPrefix(get("TELEGRAM_BOT_USERNAME", ""), "@"),
		APIURL:        strings.TrimRight(get("TELEGRAM_API_URL", "https://api.telegram.org"), "/"),
		WebhookSecret: strings.TrimSpace(getenv("TELEGRAM_WEBHOOK_SECRET")),
	}
	if c.Telegram.Token != "" {
		if c.Telegram.Username == "" {
			return c, &configError{"TELEGRAM_BOT_USERNAME", "required with TELEGRAM_BOT_TOKEN (the connect links name the bot)"}
		}
		if u, err := url.Parse(c.Telegram.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, &configError{"TELEGRAM_API_URL", fmt.Sprintf("%q is not an absolute http(s) URL", c.Telegram.APIURL)}
		}
		// Telegram allows 1–256 characters A–Z, a–z, 0–9, _ and - in the
		// header it echoes; whoever knows it can send the bot's commands
		// as anyone's chat, so a guessable one is refused.
		if s := c.Telegram.WebhookSecret; s != "" && !webhookSecret.MatchString(s) {
			return c, &configError{"TELEGRAM_WEBHOOK_SECRET", "24 to 256 characters of A-Z, a-z, 0-9, _ and -"}
		}
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		return c, &configError{"ADMIN_EMAIL", "ADMIN_EMAIL and ADMIN_PASSWORD must be set together"}
	}
	if c.Production() {
		if c.JWTSecret == nil {
			return c, &configError{"JWT_SECRET", "required when APP_ENV=production"}
		}
		if c.SMTP.Host == "" {
			return c, &configError{"SMTP_HOST", "required when APP_ENV=production"}
		}
		// The TOTP secrets are sealed with a key derived from TOTP_KEY, or
		// else from JWT_SECRET: rotating JWT_SECRET would then make every
		// stored secret unreadable, and every user with 2FA on could no
		// longer sign in. Production keeps the two keys apart.
		if c.TOTPKey == nil {
			return c, &configError{"TOTP_KEY", "required when APP_ENV=production (else the 2FA secrets are sealed with a key derived from JWT_SECRET, and rotating it locks out every user with 2FA)"}
		}
	}
	return c, nil
}

func intVar(get func(string, string) string, name string, def, min, max int) (int, error) {
	s := get(name, "")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, &configError{name, fmt.Sprintf("%q is not a whole number from %d to %d", s, min, max)}
	}
	return n, nil
}

// devJWTSecret returns the key kept in DataDir, creating it on first use, so
// development sessions survive restarts without anyone setting JWT_SECRET.
func devJWTSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, "jwt-secret")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := []byte(hex.EncodeToString(raw))
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, err
	}
	return secret, nil
}
