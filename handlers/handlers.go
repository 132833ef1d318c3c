// Package handlers is the HTTP face of Tozalash: every route, the middleware
// around them, and the one place that decides JSON, htmx fragment or page.
package handlers

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"tozalash/auth"
	"tozalash/chat"
	"tozalash/store"
	"tozalash/telegram"
	"tozalash/views"
)

// Config is what the handlers need to know of the configuration.
type Config struct {
	BaseURL        string
	SecureCookies  bool
	HTTPS          bool // BaseURL is https: send HSTS
	TrustedProxies []string
	JWTSecret      []byte
	TOTPKey        []byte // encrypts TOTP secrets; JWTSecret when empty
	// MetricsToken lets a scraper that is not on loopback read /metrics
	// (as a Bearer token); empty: loopback only.
	MetricsToken string
	// AuthCacheTTL is how long a checked session is trusted without a new
	// look-up: 0 means DefaultAuthCacheTTL, a negative value checks every
	// request.
	AuthCacheTTL time.Duration
	// RequireAdmin2FA keeps admins without 2FA out of the admin routes.
	RequireAdmin2FA bool
	AuthRateLimit   int // POSTs a minute per IP on the auth routes
	// Hasher runs the password hashes; nil means auth.NewHasher(0): one
	// worker per core but one, and the default budget.
	Hasher *auth.Hasher
	// EmailQueued is called after an email is put in the outbox, to wake
	// the mail worker; nil leaves the worker to its polling.
	EmailQueued func()
	// ChatEmailAfter is how long a message waits for an away recipient
	// before they are emailed (10 min); ChatPing how often sockets are
	// pinged (30 s).
	ChatEmailAfter time.Duration
	ChatPing       time.Duration
	// AllowedOrigins are origins besides BASE_URL's from which the chat
	// socket may be opened (the site under another host name).
	AllowedOrigins []string
	// Now is the rate limits' and the booking rules' clock; nil: time.Now.
	// The limits' windows are fixed (on the minute, say), so a test of a
	// limit pins it, lest a window end in the middle; a test of an order
	// moves it past a visit's start instead of waiting.
	Now func() time.Time
	// Telegram is the company's bot (#24); its Token empty: off.
	Telegram TelegramConfig
}

// Handler holds the dependencies every route shares.
type Handler struct {
	cfg             Config
	log             *slog.Logger
	db              *store.DB
	services        *store.ServiceStore
	orders          *store.OrderStore
	reviews         *store.ReviewStore // #24
	settings        *store.SettingsStore
	promos          *store.PromoCodeStore
	schedule        *store.ScheduleStore
	plans           *store.PlanStore
	reminded        queuedKeys    // reminders seen queued (reminders.go)
	firstTryWait    time.Duration // how long a booking's retry waits on its other tries (awaitOtherTries)
	users           *store.UserStore
	sessions        *store.SessionStore
	oneTime         *store.TokenStore
	addresses       *store.AddressStore
	outbox          *store.OutboxStore
	calendars       *store.CalendarStore // the private calendar feeds (#24)
	telegrams       *store.TelegramStore // the customers' Telegram chats (#24)
	tg              *telegram.Client     // the bot; nil while Telegram is off
	tokens          *auth.Tokens
	catalog         *views.Catalog
	authPerIP       *limit // POSTs to the auth routes per client IP, one budget for all of them
	loginFromIP     *limit // password tries per account and client IP (logintries.go)
	loginFromDevice *limit // password tries per account's known browser
	loginUntrusted  *limit // password tries per account from unknown browsers
	unlockEmails    *limit // unlock links per account
	passwordChecks  *limit // a signed-in user's password checks, per session
	devices         deviceSigner
	secrets         *auth.SecretBox // TOTP secrets at rest
	hasher          *auth.Hasher    // bounds the password hashes running and waiting
	verifyEmails    *limit          // verification emails per address
	resetEmails     *limit          // password reset emails per address
	verifyCodes     *limit          // verification codes tried per address (signup.go)
	proxies         []*net.IPNet    // TRUSTED_PROXIES
	auth            *authCache
	csrf            csrfSigner
	jobs            chan struct{} // slots for background work
	jobsRunning     sync.WaitGroup
	wrongCodes      *limit // wrong second-factor codes per account (twofactor.go)
	codeWarnings    *limit // the same, up to the alert's threshold
	codeAlerts      *limit // the alert email, once a day per account

	chat      *store.ChatStore
	hub       chatHub
	chatLimit *limit // messages (and new conversations) per user
	// chatFrames and chatTyping stay in each instance's memory: a database
	// write for every frame of a socket, or every keystroke's "typing",
	// would cost more than the flood they stop. A user's sockets on N
	// instances may send N times as many; the messages among those frames
	// are still held to chatLimit.
	chatFrames *chat.RateLimit // any frame per user
	chatTyping *chat.RateLimit // "typing" per user and conversation
	origins    map[string]bool // BASE_URL's and ALLOWED_ORIGINS: where a socket may come from
	life       context.Context // ends at CloseSockets
	stop       context.CancelFunc
	sockets    sync.WaitGroup
	pages      pageCache // public pages, rendered
	metrics    *metrics  // what /metrics shows
	refusals   loadRefusals
	// metricsHandler writes the registry in Prometheus' text format.
	metricsHandler fiber.Handler
	socketsMu      sync.Mutex // Add after CloseSockets began would race its Wait
	closing        bool
}

// DefaultAuthCacheTTL is how long a checked session is trusted by default:
// a logout or a password change on another instance (which drops it at once
// on its own) is seen here within it. (Found in #8: without it every
// signed-in request cost two look-ups; #16 bounds what any cache may hide
// from another instance at 1 s.)
const DefaultAuthCacheTTL = time.Second

// BodyLimit is the largest request body accepted; larger ones get 413.
const BodyLimit = 1 << 20

// New builds the Fiber app with every route of Tozalash, and the Handler,
// whose Wait lets background work finish at shutdown.
func New(db *store.DB, cfg Config, log *slog.Logger) (*fiber.App, *Handler, error) {
	return newApp(db, cfg, log)
}

func newApp(db *store.DB, cfg Config, log *slog.Logger) (*fiber.App, *Handler, error) {
	catalog, err := views.LoadCatalog()
	if err != nil {
		return nil, nil, err
	}
	tokens, err := auth.NewTokens(cfg.JWTSecret)
	if err != nil {
		return nil, nil, err
	}
	totpKey := cfg.TOTPKey
	if len(totpKey) == 0 {
		totpKey = cfg.JWTSecret
	}
	secrets, err := auth.NewSecretBox(totpKey)
	if err != nil {
		return nil, nil, err
	}
	proxies, err := parseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, nil, err
	}
	if cfg.AuthRateLimit <= 0 {
		cfg.AuthRateLimit = 10
	}
	if cfg.EmailQueued == nil {
		cfg.EmailQueued = func() {}
	}
	if cfg.ChatEmailAfter == 0 {
		cfg.ChatEmailAfter = 10 * time.Minute
	}
	if cfg.Hasher == nil {
		cfg.Hasher = auth.NewHasher(0)
	}
	if cfg.ChatPing == 0 {
		cfg.ChatPing = 30 * time.Second
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Host == "" {
		return nil, nil, fmt.Errorf("BASE_URL %q: not an absolute URL", cfg.BaseURL)
	}
	origins := map[string]bool{}
	for _, o := range append([]string{base.Scheme + "://" + base.Host}, cfg.AllowedOrigins...) {
		norm, err := ParseOrigin(o)
		if err != nil {
			return nil, nil, fmt.Errorf("ALLOWED_ORIGINS: %w", err)
		}
		origins[norm] = true
	}
	life, stop := context.WithCancel(context.Background()) // the sockets' lifetime, ended by CloseSockets
	limits := store.NewLimitStore(db)
	authCache := newAuthCache(cmp.Or(cfg.AuthCacheTTL, DefaultAuthCacheTTL))
	h := &Handler{
		cfg:             cfg,
		firstTryWait:    firstTryWait,
		log:             log,
		db:              db,
		services:        store.NewServiceStore(db),
		orders:          store.NewOrderStore(db),
		reviews:         store.NewReviewStore(db),
		settings:        store.NewSettingsStore(db),
		promos:          store.NewPromoCodeStore(db),
		schedule:        store.NewScheduleStore(db),
		plans:           store.NewPlanStore(db),
		users:           store.NewUserStore(db),
		sessions:        store.NewSessionStore(db),
		oneTime:         store.NewTokenStore(db),
		addresses:       store.NewAddressStore(db),
		outbox:          store.NewOutboxStore(db),
		calendars:       store.NewCalendarStore(db),
		telegrams:       store.NewTelegramStore(db),
		tokens:          tokens,
		catalog:         catalog,
		authPerIP:       newLimit(limits, log, "auth-ip", cfg.AuthRateLimit, time.Minute),
		loginFromIP:     newLimit(limits, log, "login-ip", cfg.AuthRateLimit, 15*time.Minute),
		loginFromDevice: newLimit(limits, log, "login-device", cfg.AuthRateLimit, 15*time.Minute),
		loginUntrusted:  newLimit(limits, log, "login", untrustedLoginFactor*cfg.AuthRateLimit, time.Hour),
		unlockEmails:    newLimit(limits, log, "unlock-email", 1, 15*time.Minute),
		passwordChecks:  newLimit(limits, log, "password-check", cfg.AuthRateLimit, 15*time.Minute),
		devices:         newDeviceSigner(cfg.JWTSecret),
		secrets:         secrets,
		hasher:          cfg.Hasher,
		// At most 3 links an address in 15 minutes, of each kind: nobody
		// floods an inbox or keeps killing its newest link.
		verifyEmails: newLimit(limits, log, "verify-email", 3, 15*time.Minute),
		resetEmails:  newLimit(limits, log, "reset-email", 3, 15*time.Minute),
		verifyCodes:  newLimit(limits, log, "verify-code", maxVerifyCodeTries, verifyCodeWindow),
		wrongCodes:   newLimit(limits, log, "2fa-fail", maxWrongCodes, wrongCodesWindow),
		codeWarnings: newLimit(limits, log, "2fa-warn", alertAfterWrongCodes-1, wrongCodesWindow),
		codeAlerts:   newLimit(limits, log, "2fa-alert", 1, wrongCodesWindow),
		proxies:      proxies,
		auth:         authCache,
		csrf:         newCSRFSigner(cfg.JWTSecret),
		jobs:         make(chan struct{}, 64),
		chat:         store.NewChatStore(db),
		hub:          newRelayedHub(db, log, authCache),
		chatLimit:    newLimit(limits, log, "chat", chatRate, chatRateWindow),
		chatFrames:   chat.NewRateLimit(10*chatRate, chatRateWindow),
		chatTyping:   chat.NewRateLimit(1, 2*time.Second),
		origins:      origins,
		life:         life,
		stop:         stop,
	}
	fc := fiber.Config{
		AppName:               "tozalash",
		BodyLimit:             BodyLimit,
		ReadTimeout:           15 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           90 * time.Second,
		DisableStartupMessage: true,
		// The form is parsed when a handler binds it, so that a multipart body
		// that does not parse gets the app's 400 (JSON or page), not
		// fasthttp's reset of the request.
		DisablePreParseMultipartForm: true,
		ErrorHandler:                 h.handleError,
	}
	if cfg.Telegram.on() {
		h.tg = telegram.New(cfg.Telegram.APIURL, cfg.Telegram.Token, nil)
	}
	h.metrics = newMetrics(db, h.hub.Sockets, h.hub.relayDropped)
	h.metricsHandler = h.metrics.handler()
	app := fiber.New(fc)
	h.routes(app)
	return app, h, nil
}
