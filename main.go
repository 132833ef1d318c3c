// Command tozalash is the web application of a cleaning-services company:
// one binary serving the pages, the JSON API and (when no MONGODB_URI is
// given) its own embedded database.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	netmail "net/mail"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"tozalash/auth"
	"tozalash/demo"
	"tozalash/handlers"
	"tozalash/mail"
	"tozalash/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tozalash:", err)
		var ce *configError
		var ue usageError
		if errors.As(err, &ce) || errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a wrong command line; main exits with code 2 for it.
type usageError string

func (e usageError) Error() string { return string(e) }

const usage = `usage: tozalash [command]

commands:
  serve                                         start the web server (default)
  create-admin --email E --password P [--username U]   create a verified ADMIN account
  seed                                          insert the demo data (catalogue, crews and their cleaners, customers, visits)
  stats reconcile                               recompute the statistics' counters and the order lists
                                                from the collections (also: reconcile)
  backup FILE                                   write every collection to FILE, a gzip'd tar of MongoDB
                                                Extended JSON files (- for standard output)
  restore FILE                                  load a backup (- for standard input) into an empty database,
                                                then recompute the counters as stats reconcile does`

// run is the whole program; main only supplies the signals, arguments and
// environment, so tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "create-admin":
		return createAdminCommand(ctx, cfg, log, args)
	case "seed":
		return withDB(ctx, cfg, log, func(db *store.DB) error {
			inserted, err := demo.Seed(ctx, db)
			if err == nil {
				log.Info("seed", slog.Bool("inserted", inserted))
				_, err = demo.SeedOffers(ctx, db)
			}
			if err == nil {
				_, err = demo.SeedCrews(ctx, db, demo.WorkingWeek())
			}
			if err == nil {
				var n int
				if n, err = demo.SeedVisits(ctx, db, time.Now()); err == nil {
					log.Info("seed: demo visits", slog.Int("booked", n))
				}
			}
			if err == nil {
				var made []demo.Credential
				made, err = demo.SeedCleaners(ctx, db)
				// The demo cleaners' passwords are random and kept nowhere
				// else: shown once, when made, and in development only (a
				// password reset gives another later).
				for _, c := range made {
					if !cfg.Production() {
						log.Info("seed: demo cleaner", slog.String("email", c.Email), slog.String("password", c.Password), slog.String("crew", c.Crew))
					}
				}
			}
			if err == nil {
				var n int
				if n, err = demo.SeedCrewDays(ctx, db, time.Now()); err == nil {
					log.Info("seed: the demo crews' today and tomorrow", slog.Int("booked", n))
				}
			}
			if err == nil {
				var made bool
				if made, err = demo.SeedPlans(ctx, db, time.Now()); err == nil && made {
					log.Info("seed: a demo regular cleaning (its visits are booked when the app starts)")
				}
			}
			return err
		})
	case "stats", "reconcile":
		if cmd == "stats" && (len(args) != 1 || args[0] != "reconcile") {
			return usageError("usage: tozalash stats reconcile")
		}
		return withDB(ctx, cfg, log, func(db *store.DB) error { return reconcile(ctx, db, log) })
	case "backup":
		if len(args) != 1 || args[0] == "" {
			return usageError("usage: tozalash backup FILE (- for standard output)")
		}
		return withDB(ctx, cfg, log, func(db *store.DB) error { return backupCommand(ctx, db, args[0]) })
	case "restore":
		if len(args) != 1 || args[0] == "" {
			return usageError("usage: tozalash restore FILE (- for standard input)")
		}
		var in io.Reader = os.Stdin
		if args[0] != "-" {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		return withDB(ctx, cfg, log, func(db *store.DB) error { return restoreCommand(ctx, db, in, log) })
	case "help", "-h", "--help":
		fmt.Println(usage)
		return nil
	}
	return usageError(fmt.Sprintf("unknown command %q\n%s", cmd, usage))
}

// prepare makes the database ready to serve, under the setup lease:
//   - a database whose counters are missing (made by an older version, or
//     restored without them) gets them recomputed;
//   - order writes a crash cut off are finished from the journal (those of
//     this address's previous process at once, see store.RepairJournal);
//   - the demo catalogue, offers, crews and booked visits, once per
//     database;
//   - the first admin (ADMIN_EMAIL, ADMIN_PASSWORD), when there is none.
func prepare(ctx context.Context, cfg Config, db *store.DB, log *slog.Logger) error {
	missing, err := db.CountersMissing(ctx)
	if err != nil {
		return err
	}
	if missing {
		if err := reconcile(ctx, db, log); err != nil {
			return err
		}
	}
	if err := db.Beat(ctx, time.Now().UTC()); err != nil {
		return err
	}
	if n, err := db.RepairJournal(ctx, time.Now().UTC()); err != nil {
		return err
	} else if n > 0 {
		log.Warn("the last run was cut off: finished its order writes from the journal", slog.Int("writes", n))
	}
	if inserted, err := demo.Seed(ctx, db); err != nil {
		return fmt.Errorf("demo data: %w", err)
	} else if inserted {
		log.Info("inserted the demo catalogue")
	}
	if inserted, err := demo.SeedOffers(ctx, db); err != nil {
		return fmt.Errorf("demo offers: %w", err)
	} else if inserted {
		log.Info("set the demo's frequency discounts and promo code")
	}
	// Crews, so that the catalogue can be booked from the first start (the
	// admin renames them, or adds their own). Demo customers and their
	// visits come only with `seed`, which `make run` runs: a company's own
	// database gets no made-up orders.
	if inserted, err := demo.SeedCrews(ctx, db, demo.WorkingWeek()); err != nil {
		return fmt.Errorf("demo crews: %w", err)
	} else if inserted {
		log.Info("added the demo crews")
	}
	if cfg.AdminEmail == "" {
		return nil
	}
	users := store.NewUserStore(db)
	exists, err := users.AdminExists(ctx)
	if err != nil || exists {
		return err
	}
	err = createAdmin(ctx, db, cfg.AdminEmail, cfg.AdminPassword, "")
	if errors.Is(err, errAccountExists) {
		// Made by someone else meanwhile (another instance whose lease
		// this one took over, or create-admin on MongoDB): fine if it is
		// the admin asked for.
		if u, gerr := users.GetByEmail(ctx, cfg.AdminEmail); gerr == nil && u.IsAdmin() {
			return nil
		}
	}
	var pe passwordError
	if errors.As(err, &pe) {
		return &configError{"ADMIN_PASSWORD", pe.Error()}
	}
	if err != nil {
		return fmt.Errorf("ADMIN_EMAIL: %w", err)
	}
	log.Info("created the first admin", slog.String("email", cfg.AdminEmail))
	return nil
}

// reconcile recomputes the counters and the read models, and says what it
// found. Two never run at once on one database (a lease), though each
// would be safe beside the other.
func reconcile(ctx context.Context, db *store.DB, log *slog.Logger) error {
	var r store.ReconcileReport
	err := db.Exclusive(ctx, "reconcile", func(ctx context.Context) (err error) {
		r, err = db.Reconcile(ctx)
		return err
	})
	if err == nil {
		log.Info("reconciled the statistics and the order lists", slog.Int64("users", r.Users), slog.Int64("services", r.Services),
			slog.Int64("orders", r.Orders), slog.Int64("customers", r.Customers), slog.Int64("renumbered", r.Renumbered))
	}
	return err
}

// backupCommand writes a backup of db to path, atomically: into path.tmp,
// synced, then renamed; "-" is standard output (the counts go to standard
// error then).
func backupCommand(ctx context.Context, db *store.DB, path string) error {
	if path == "-" {
		w := bufio.NewWriterSize(os.Stdout, 1<<20)
		r, err := db.Backup(ctx, w)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			return err
		}
		printCounts(os.Stderr, "backed up", r)
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) // password hashes and 2FA secrets inside
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r, err := db.Backup(ctx, w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil { // the rename itself
		_ = dir.Sync()
		dir.Close()
	}
	printCounts(os.Stdout, "backed up", r)
	return nil
}

// restoreCommand loads a backup into db, which must be empty, and then
// recomputes the counters and read models from the restored collections.
func restoreCommand(ctx context.Context, db *store.DB, in io.Reader, log *slog.Logger) error {
	r, err := db.Restore(ctx, in)
	if err != nil {
		return err
	}
	if err := reconcile(ctx, db, log); err != nil {
		return fmt.Errorf("restored the documents, but: %w", err)
	}
	printCounts(os.Stdout, "restored", r)
	return nil
}

// printCounts writes the documents per collection of a backup or restore.
func printCounts(w io.Writer, what string, r store.BackupReport) {
	for _, name := range r.Names() {
		fmt.Fprintf(w, "%-16s %d\n", name, r.Counts[name])
	}
	fmt.Fprintf(w, "%s %d documents\n", what, r.Total())
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Production() {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openDB opens the database; slot, for a server, is where it listens (see
// store.Options.Slot), empty for a subcommand.
func openDB(ctx context.Context, cfg Config, log *slog.Logger, slot string) (*store.DB, error) {
	opts := store.Options{URI: cfg.MongoURI, Database: cfg.MongoDB, DataDir: cfg.DataDir, Logger: log, Slot: slot}
	if cfg.LogLevel == "debug" {
		opts.DBLogger = log.With(slog.String("component", "ferretdb"))
	}
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return store.Open(openCtx, opts)
}

func withDB(ctx context.Context, cfg Config, log *slog.Logger, fn func(*store.DB) error) error {
	db, err := openDB(ctx, cfg, log, "")
	if err != nil {
		return err
	}
	defer closeDB(db, log)
	return fn(db)
}

func closeDB(db *store.DB, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.Close(ctx); err != nil {
		log.Warn("close database", slog.Any("error", err))
	}
}

// serve runs the web server until ctx ends, then drains requests in flight
// for up to 10 s and closes the database.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	// The password hashes run on threads of their own at a low priority
	// (auth.Hasher): each gets a P of its own, so that while the kernel
	// holds one back it does not hold back a P the pages need. An explicit
	// GOMAXPROCS wins.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(startProcs + auth.DefaultHashSlots())
	}
	gcDefaults()
	if cfg.JWTSecret == nil {
		secret, err := devJWTSecret(cfg.DataDir)
		if err != nil {
			return fmt.Errorf("development JWT key: %w", err)
		}
		cfg.JWTSecret = secret
	}
	db, err := openDB(ctx, cfg, log, cfg.Addr)
	if err != nil {
		return err
	}
	defer closeDB(db, log)

	// The steps that make a database ready run under a lease, one instance
	// at a time: instances starting together on an empty database make the
	// counters, the demo catalogue and the first admin once, and a counter
	// is never recomputed while another starting instance writes it. Each
	// step also holds alone: it finds what another did and goes on. Order
	// writes cut off by a crash are finished from their journal: at once
	// here, and by Maintain afterwards (another instance's, once it is
	// known dead).
	if err := db.Exclusive(ctx, "setup", func(ctx context.Context) error { return prepare(ctx, cfg, db, log) }); err != nil {
		return err
	}
	maintainCtx, stopMaintain := context.WithCancel(context.WithoutCancel(ctx))
	maintained := make(chan struct{})
	go func() { defer close(maintained); db.Maintain(maintainCtx, 2*time.Second) }()
	defer func() { stopMaintain(); <-maintained }()
	var sender mail.Sender = mail.Log{Logger: log}
	if cfg.SMTP.Host != "" {
		sender = mail.NewSMTP(cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.User, cfg.SMTP.Password, cfg.SMTP.From)
	}
	// Sessions that can never be used again go, at start and then hourly.
	pruneDone := make(chan struct{})
	defer func() { <-pruneDone }() // before the database closes
	go func() {
		defer close(pruneDone)
		sessions := store.NewSessionStore(db)
		telegrams := store.NewTelegramStore(db)
		for {
			if n, err := sessions.Prune(ctx, time.Now()); err != nil {
				log.Warn("prune sessions", slog.Any("error", err))
			} else if n > 0 {
				log.Info("pruned sessions", slog.Int64("sessions", n))
			}
			if err := telegrams.Prune(ctx, time.Now()); err != nil { // expired connect links, old updates
				log.Warn("prune Telegram", slog.Any("error", err))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Hour):
			}
		}
	}()
	channels := &mail.Channels{Email: sender} // and Telegram's, once the handlers have the bot
	mailer := mail.NewWorker(store.NewOutboxStore(db), channels, log)
	app, h, err := handlers.New(db, handlers.Config{
		BaseURL:         cfg.BaseURL,
		SecureCookies:   cfg.SecureCookies(),
		HTTPS:           strings.HasPrefix(cfg.BaseURL, "https://"),
		TrustedProxies:  cfg.TrustedProxies,
		JWTSecret:       cfg.JWTSecret,
		TOTPKey:         cfg.TOTPKey,
		RequireAdmin2FA: cfg.RequireAdmin2FA,
		AuthRateLimit:   cfg.AuthRateLimit,
		EmailQueued:     mailer.Wake,
		MetricsToken:    cfg.MetricsToken,
		AllowedOrigins:  cfg.AllowedOrigins,
		Telegram:        cfg.Telegram,
	}, log)
	if err != nil {
		return err
	}
	channels.Telegram = h.TelegramSender()
	h.Register(mailer.Collectors()...)
	mailer.Relink = h.Relink
	mailCtx, stopMail := context.WithCancel(context.WithoutCancel(ctx))
	mailDone := make(chan struct{})
	go func() { defer close(mailDone); mailer.Run(mailCtx) }()
	defer func() { stopMail(); <-mailDone }()
	noticeCtx, stopNotices := context.WithCancel(context.WithoutCancel(ctx))
	notices := make(chan struct{})
	go func() { defer close(notices); h.RunChatNotices(noticeCtx, 30*time.Second) }()
	defer func() { stopNotices(); <-notices }()
	plansCtx, stopPlans := context.WithCancel(context.WithoutCancel(ctx))
	plans := make(chan struct{})
	go func() { defer close(plans); h.RunPlans(plansCtx, handlers.PlanVisitsEvery) }()
	defer func() { stopPlans(); <-plans }()
	remindersCtx, stopReminders := context.WithCancel(context.WithoutCancel(ctx))
	reminders := make(chan struct{})
	go func() { defer close(reminders); h.RunReminders(remindersCtx, handlers.ReminderEvery) }()
	defer func() { stopReminders(); <-reminders }()
	telegramCtx, stopTelegram := context.WithCancel(context.WithoutCancel(ctx))
	telegramDone := make(chan struct{})
	go func() { defer close(telegramDone); h.RunTelegram(telegramCtx) }()
	defer func() { stopTelegram(); <-telegramDone }()
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	relay := make(chan struct{})
	go func() { defer close(relay); h.RunRelay(relayCtx) }()
	defer func() { stopRelay(); <-relay }()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR: %w", err)
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("url", cfg.BaseURL), slog.Bool("embeddedDatabase", cfg.MongoURI == ""))

	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	h.CloseSockets(3 * time.Second) // every chat socket gets 1001
	if err := app.ShutdownWithTimeout(10 * time.Second); err != nil {
		log.Warn("shutdown", slog.Any("error", err))
	}
	h.Wait() // background work (reset emails) still writing to the outbox
	return nil
}

// startProcs is GOMAXPROCS as the runtime chose it at start (a container's
// CPU quota included), before serve adds the hashers' threads.
var startProcs = runtime.GOMAXPROCS(0)

var usernamePattern = regexp.MustCompile(`^[a-z0-9_.]{3,32}$`)

func createAdminCommand(ctx context.Context, cfg Config, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("create-admin", flag.ContinueOnError)
	email := fs.String("email", "", "the admin's email")
	password := fs.String("password", "", "the admin's password (8–128 characters)")
	username := fs.String("username", "", "the admin's username (default: from the email)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *email == "" || *password == "" {
		return usageError("create-admin needs --email and --password")
	}
	return withDB(ctx, cfg, log, func(db *store.DB) error {
		if err := createAdmin(ctx, db, *email, *password, *username); err != nil {
			var pe passwordError
			if errors.As(err, &pe) {
				return usageError(pe.Error())
			}
			return err
		}
		log.Info("created admin", slog.String("email", strings.ToLower(*email)))
		return nil
	})
}

// createAdmin makes a verified ADMIN account, with the rules of a signup:
// the email normalized and in Latin letters, the password 8 to 128
// characters and strong enough (else a passwordError saying why).
func createAdmin(ctx context.Context, db *store.DB, email, password, username string) error {
	email = auth.NormalizeEmail(email)
	addr, err := netmail.ParseAddress(email)
	if err != nil || addr.Address != email {
		return usageError(fmt.Sprintf("%q is not an email address", email))
	}
	if auth.EmailHasLookalikes(email) {
		return usageError(fmt.Sprintf("%q has letters of another script than Latin, or invisible characters", email))
	}
	if n := len([]rune(password)); n < auth.MinPasswordLen || n > auth.MaxPasswordLen {
		return passwordError("the password must be 8 to 128 characters long")
	}
	if username == "" {
		username = usernameFromEmail(email)
	}
	if !usernamePattern.MatchString(username) {
		return usageError("the username must be 3 to 32 characters of a-z, 0-9, _ and .")
	}
	if weak := auth.PasswordWeakness(password, auth.PasswordContext(email, username)...); weak != "" {
		return passwordError("the password is too easy to guess: " + weak.Describe())
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	err = store.NewUserStore(db).Create(ctx, &store.User{
		Username: username, Email: email, PasswordHash: hash,
		Role: store.RoleAdmin, IsVerified: true, Locale: "uz",
	})
	if errors.Is(err, store.ErrConflict) {
		return errAccountExists
	}
	return err
}

// passwordError is a password createAdmin refuses: the command line's
// (exit code 2), or ADMIN_PASSWORD's at start.
type passwordError string

func (e passwordError) Error() string { return string(e) }

var errAccountExists = errors.New("an account with this email or username exists already")

func usernameFromEmail(email string) string {
	local := strings.ToLower(strings.SplitN(email, "@", 2)[0])
	local = regexp.MustCompile(`[^a-z0-9_.]`).ReplaceAllString(local, "")
	for len(local) < 3 {
		local += "_"
	}
	if len(local) > 32 {
		local = local[:32]
	}
	return local
}

// gcDefaults sets a soft memory limit of 192 MiB where the environment says
// nothing, so the server fits a 1 GB machine beside its database: the
// collector works harder as the heap nears it. (GOGC=200, the earlier
// default, bought 15 % more bookings a second for 700 MB of RSS.)
func gcDefaults() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(192 << 20)
	}
}
