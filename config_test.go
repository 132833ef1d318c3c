package main

import (
	"errors"
	"strings"
	"testing"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":3000" || c.BaseURL != "http://localhost:3000" || c.Env != "development" || c.MongoURI != "" ||
		c.MongoDB != "tozalash" || c.DataDir != "./data" || c.SMTP.Port != 587 || c.SMTP.From != "Tozalash <no-reply@localhost>" ||
		c.AuthRateLimit != 10 || c.LogLevel != "info" || c.JWTSecret != nil || c.SecureCookies() {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestConfigValues(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{
		"ADDR": "127.0.0.1:8080", "BASE_URL": "https://tozalash.uz/", "MONGODB_URI": "mongodb://db:27017",
		"JWT_SECRET": strings.Repeat("k", 32), "TOTP_KEY": strings.Repeat("t", 32), "SMTP_HOST": "smtp.example.uz", "SMTP_PORT": "465",
		"TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2", "AUTH_RATE_LIMIT": "5", "APP_ENV": "production", "LOG_LEVEL": "DEBUG",
		"ADMIN_EMAIL": "Boss@Tozalash.uz", "ADMIN_PASSWORD": "secret-password",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "https://tozalash.uz" || c.SMTP.Port != 465 || len(c.TrustedProxies) != 2 || c.TrustedProxies[1] != "10.0.0.2" ||
		c.AuthRateLimit != 5 || !c.Production() || !c.SecureCookies() || c.LogLevel != "debug" || c.AdminEmail != "boss@tozalash.uz" ||
		string(c.TOTPKey) != strings.Repeat("t", 32) {
		t.Fatalf("config = %+v", c)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"APP_ENV": "staging"}, "APP_ENV"},
		{map[string]string{"BASE_URL": "localhost:3000"}, "BASE_URL"},
		{map[string]string{"SMTP_PORT": "smtp"}, "SMTP_PORT"},
		{map[string]string{"SMTP_PORT": "70000"}, "SMTP_PORT"},
		{map[string]string{"AUTH_RATE_LIMIT": "0"}, "AUTH_RATE_LIMIT"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{map[string]string{"JWT_SECRET": "short"}, "JWT_SECRET"},
		{map[string]string{"ADMIN_EMAIL": "a@b.uz"}, "ADMIN_EMAIL"},
		{map[string]string{"APP_ENV": "production", "SMTP_HOST": "smtp"}, "JWT_SECRET"},
		{map[string]string{"APP_ENV": "production", "JWT_SECRET": strings.Repeat("k", 32)}, "SMTP_HOST"},
		{map[string]string{"TOTP_KEY": "short"}, "TOTP_KEY"},
		{map[string]string{"TELEGRAM_BOT_TOKEN": "1:x"}, "TELEGRAM_BOT_USERNAME"},
		{map[string]string{"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_BOT_USERNAME": "Bot", "TELEGRAM_API_URL": "api.telegram.org"}, "TELEGRAM_API_URL"},
		{map[string]string{"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_BOT_USERNAME": "Bot", "TELEGRAM_WEBHOOK_SECRET": "has spaces"}, "TELEGRAM_WEBHOOK_SECRET"},
		{map[string]string{"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_BOT_USERNAME": "Bot", "TELEGRAM_WEBHOOK_SECRET": "short_but_valid"}, "TELEGRAM_WEBHOOK_SECRET"},
		// Without TOTP_KEY the 2FA secrets' key comes from JWT_SECRET, and a
		// rotated JWT_SECRET would lock every 2FA user out (#18, gap 9).
		{map[string]string{"APP_ENV": "production", "JWT_SECRET": strings.Repeat("k", 32), "SMTP_HOST": "smtp"}, "TOTP_KEY"},
	} {
		_, err := loadConfig(envOf(tc.env))
		var ce *configError
		if !errors.As(err, &ce) || ce.name != tc.name || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%v: error %v, want one naming %s", tc.env, err, tc.name)
		}
	}
}

// Telegram is off without a token; with one, the rest defaults or is read.
func TestConfigTelegram(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{}))
	if err != nil || c.Telegram.Token != "" || c.Telegram.APIURL != "https://api.telegram.org" {
		t.Fatalf("defaults: %+v %v", c.Telegram, err)
	}
	c, err = loadConfig(envOf(map[string]string{"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_BOT_USERNAME": "@TozalashBot",
		"TELEGRAM_API_URL": "http://127.0.0.1:9/", "TELEGRAM_WEBHOOK_SECRET": "s3cret_-abcdefghijklmnopqrstuv"}))
	if err != nil || c.Telegram.Username != "TozalashBot" || c.Telegram.APIURL != "http://127.0.0.1:9" || c.Telegram.WebhookSecret != "s3cret_-abcdefghijklmnopqrstuv" {
		t.Errorf("set: %+v %v", c.Telegram, err)
	}
}

func TestDevJWTSecretIsKept(t *testing.T) {
	dir := t.TempDir()
	a, err := devJWTSecret(dir)
	if err != nil || len(a) < 32 {
		t.Fatalf("secret %q, %v", a, err)
	}
	b, err := devJWTSecret(dir)
	if err != nil || string(a) != string(b) {
		t.Fatalf("second start got another secret")
	}
}

// ALLOWED_ORIGINS lists origins (the site under another name) the chat
// socket accepts besides BASE_URL's; anything that is not an origin stops
// the start, naming the variable and the entry.
func TestConfigAllowedOrigins(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{"ALLOWED_ORIGINS": " https://WWW.Tozalash.uz , http://127.0.0.1:3000,https://tozalash.uz:443/"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.AllowedOrigins, " "); got != "https://www.tozalash.uz http://127.0.0.1:3000 https://tozalash.uz" {
		t.Errorf("origins = %q", got)
	}
	for _, bad := range []string{"www.tozalash.uz", "https://tozalash.uz/chat", "ftp://tozalash.uz", "https://", "https://tozalash.uz?x=1", "https://user@tozalash.uz", "*"} {
		_, err := loadConfig(envOf(map[string]string{"ALLOWED_ORIGINS": "http://localhost:3000," + bad}))
		var ce *configError
		if !errors.As(err, &ce) || ce.name != "ALLOWED_ORIGINS" || !strings.Contains(err.Error(), "not an origin") {
			t.Errorf("%q: error %v, want one naming ALLOWED_ORIGINS", bad, err)
		}
	}
}
