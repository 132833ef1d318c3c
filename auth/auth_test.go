package auth

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("чистый дом 2026")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := CheckPassword(h, "чистый дом 2026"); !ok || err != nil {
		t.Errorf("right password: %v %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "чистый дом 2027"); ok {
		t.Error("wrong password accepted")
	}
	h2, _ := HashPassword("чистый дом 2026")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "plain", "$bcrypt$x$y$z$w", "$argon2id$v=19$m=x$a$b"} {
		if _, err := CheckPassword(bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

func TestAccessTokens(t *testing.T) {
	tk, err := NewTokens([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewTokens([]byte("short")); err == nil {
		t.Error("a short key accepted")
	}
	uid, sid := primitive.NewObjectID(), primitive.NewObjectID()
	s, _ := tk.IssueAccess(uid, sid, 3, time.Now())
	gu, gs, tv, err := tk.ParseAccess(s)
	if err != nil || gu != uid || gs != sid || tv != 3 {
		t.Errorf("parse = %v %v %d %v", gu, gs, tv, err)
	}
	old, _ := tk.IssueAccess(uid, sid, 3, time.Now().Add(-AccessTTL-time.Second))
	if _, gs, _, err := tk.ParseAccess(old); err != ErrExpired || gs != sid {
		t.Errorf("expired token: %v, session %v", err, gs)
	}
	if _, gs, _, err := tk.ParseAccess(tamper(old)); err != ErrInvalidToken || !gs.IsZero() {
		t.Errorf("tampered expired token: %v, session %v", err, gs)
	}
	if _, _, _, err := tk.ParseAccess(tamper(s)); err != ErrInvalidToken {
		t.Errorf("tampered token: %v", err)
	}
	// A token checked once is held, and still expires on time.
	now := time.Now()
	tk.now = func() time.Time { return now }
	if _, _, _, err := tk.ParseAccess(s); err != nil {
		t.Fatalf("the held token: %v", err)
	}
	now = now.Add(AccessTTL + time.Second)
	if _, gs, _, err := tk.ParseAccess(s); err != ErrExpired || gs != sid {
		t.Errorf("the held token after its 15 minutes: %v, session %v, want expired", err, gs)
	}
	// The parser keeps the same clock: a token issued "in the future" of it
	// is refused.
	later, _ := tk.IssueAccess(uid, sid, 3, now.Add(time.Hour))
	if _, _, _, err := tk.ParseAccess(later); err != ErrInvalidToken {
		t.Errorf("a token issued an hour ahead: %v, want invalid", err)
	}
}

// The checked tokens held stay within maxChecked: a full map drops the
// expired ones first, then all.
func TestCheckedTokensAreBounded(t *testing.T) {
	tk, err := NewTokens([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tk.now = func() time.Time { return now }
	old, _ := tk.IssueAccess(primitive.NewObjectID(), primitive.NewObjectID(), 0, now)
	if _, _, _, err := tk.ParseAccess(old); err != nil {
		t.Fatal(err)
	}
	now = now.Add(AccessTTL) // old is now past its exp
	for i := range maxChecked {
		s, _ := tk.IssueAccess(primitive.NewObjectID(), primitive.NewObjectID(), i, now)
		if _, _, _, err := tk.ParseAccess(s); err != nil {
			t.Fatal(err)
		}
	}
	tk.mu.RLock()
	n, held := len(tk.checked), tk.checked[old]
	tk.mu.RUnlock()
	if n > maxChecked || held != (checkedToken{}) {
		t.Errorf("%d tokens held (the expired one still: %v), want at most %d without it", n, held != (checkedToken{}), maxChecked)
	}
}

// tamper changes one character in the middle of a token's signature. Not
// the last: its low bits are base64 padding, so some changes decode to the
// same bytes (the old "xx" suffix passed about once in a thousand runs).
func tamper(token string) string {
	i := strings.LastIndexByte(token, '.') + 10
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

func TestCompoundSecrets(t *testing.T) {
	id := primitive.NewObjectID()
	secret, hash := NewCompound(id)
	gid, ghash, ok := SplitCompound(secret)
	if !ok || gid != id || ghash != hash {
		t.Fatalf("split = %v %v %v", gid, ghash, ok)
	}
	if strings.Contains(hash, strings.SplitN(secret, ".", 2)[1]) {
		t.Error("the hash contains the secret")
	}
	for _, bad := range []string{"", ".", id.Hex(), id.Hex() + ".short", "zz." + strings.Repeat("a", 43)} {
		if _, _, ok := SplitCompound(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The hashes run on threads the kernel serves after the pages; at most n
// run at once.
func TestHasherWorkersRunLowAndBounded(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(2)
	if runtime.GOOS == "linux" {
		if nice, err := h.Nice(ctx); err != nil || nice != HashNice {
			t.Errorf("a hashing thread's nice value = %d, %v; want %d", nice, err, HashNice)
		}
	}
	// Each hash holds its worker until two have started: with the bound
	// at 2 they must start together, whatever the machine's load (a
	// sleep of 20 ms a hash let one worker run every hash while the
	// other's thread, at nice 19, waited for a loaded CPU).
	var running, most atomic.Int32
	started := make(chan struct{}, 6)
	release := make(chan struct{})
	var releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	defer let()
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = h.run(ctx, false, func() {
				n := running.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				started <- struct{}{}
				<-release
				running.Add(-1)
			})
		}()
	}
	bound := time.NewTimer(30 * time.Second) // a failure's bound, not a wait
	defer bound.Stop()
	for range 2 {
		select {
		case <-started:
		case <-bound.C:
			t.Fatalf("at most %d hash ran at once in 30 s, want 2", most.Load())
		}
	}
	let()
	wg.Wait()
	if most.Load() != 2 {
		t.Errorf("at most %d hashes ran at once, want 2", most.Load())
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Hash(gone, "x"); err == nil {
		t.Error("a hash for a caller who has gone ran anyway")
	}
}

// A stored hash with parameters argon2 cannot run (a corrupt or hand-made
// one) is malformed, never a panic; and a panic in a hash is that caller's
// error, the worker goes on.
func TestImpossibleHashesAreErrors(t *testing.T) {
	good, err := HashPassword("toza-uy-2026")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	for _, params := range []string{"m=19456,t=0,p=1", "m=19456,t=2,p=0", "m=0,t=2,p=1", "m=19456,t=2,p=1"} {
		h := strings.Join([]string{"", parts[1], parts[2], params, parts[4], parts[5]}, "$")
		ok, err := CheckPassword(h, "toza-uy-2026")
		if params == "m=19456,t=2,p=1" {
			if !ok || err != nil {
				t.Errorf("the good hash: %v %v", ok, err)
			}
			continue
		}
		if ok || err == nil {
			t.Errorf("%s: %v %v, want ErrMalformedHash", params, ok, err)
		}
	}
	emptyKey := strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], ""}, "$")
	if ok, _ := CheckPassword(emptyKey, "anything at all"); ok {
		t.Error("a hash with an empty key matched any password")
	}
	h := NewHasher(1)
	if err := h.run(context.Background(), false, func() { panic("boom") }); err == nil {
		t.Error("a panic in a hash was no error")
	}
	if ok, err := h.Check(context.Background(), good, "toza-uy-2026"); !ok || err != nil {
		t.Errorf("the worker after a panic: %v %v", ok, err)
	}
}

// Beyond the hashes that end within the budget, a hash is refused at once
// with the time the admitted ones need; the admitted ones all end.
func TestHasherRefusesWhatItCannotServeInTime(t *testing.T) {
	ctx := context.Background()
	open := make(chan struct{})
	// One worker, hashes assumed to take 10 s, a budget of 30 s: three may
	// wait or run at once (and the waiting ones would give up only after
	// 30 s). The gate holds every hash until the test opens it.
	h := NewHasher(1, WithEstimate(10*time.Second), WithBudget(30*time.Second), WithGate(func() { <-open }))
	good, err := HashPassword("toza-uy-2026")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			ok, err := h.Check(ctx, good, "toza-uy-2026")
			if err == nil && !ok {
				err = errors.New("the right password did not match")
			}
			results <- err
		}()
	}
	waitAdmitted(t, h, 3)
	_, err = h.Hash(ctx, "another-password")
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("a fourth hash with three admitted: %v, want a BusyError", err)
	}
	if busy.RetryAfter != 30*time.Second {
		t.Errorf("retry after %s, want 30s (three hashes of 10 s on one worker)", busy.RetryAfter)
	}
	if n, _, _ := h.Load(); n != 3 {
		t.Errorf("the refused hash left %d admitted, want 3", n)
	}
	close(open)
	for i := 0; i < 3; i++ {
		if err := <-results; err != nil {
			t.Errorf("an admitted hash: %v", err)
		}
	}
	if n, _, _ := h.Load(); n != 0 {
		t.Errorf("%d admitted after all ended, want 0", n)
	}
	if _, err := h.Hash(ctx, "another-password"); err != nil {
		t.Errorf("a hash once the queue is empty: %v", err)
	}
}

// A hash with a budget shorter than one hash still runs, one per worker.
func TestHasherAlwaysAdmitsOnePerWorker(t *testing.T) {
	h := NewHasher(2, WithEstimate(time.Hour), WithBudget(time.Millisecond))
	if _, capacity, _ := h.Load(); capacity != 2 {
		t.Errorf("capacity %d, want 2", capacity)
	}
	if _, err := h.Hash(context.Background(), "toza-uy-2026"); err != nil {
		t.Error(err)
	}
}

// A hash the estimate admitted but that still waits for a worker when the
// budget is spent is refused then: the estimate cannot make a login wait
// much longer than the budget.
func TestHasherGivesUpAQueueLongerThanTheBudget(t *testing.T) {
	ctx := context.Background()
	open := make(chan struct{})
	// Hashes assumed instant: the estimate admits any number.
	atGate := make(chan struct{}, 1)
	h := NewHasher(1, WithEstimate(time.Microsecond), WithBudget(50*time.Millisecond), WithGate(func() { atGate <- struct{}{}; <-open }))
	first := make(chan error, 1)
	go func() { _, err := h.Hash(ctx, "toza-uy-2026"); first <- err }()
	<-atGate                              // the first holds the one worker
	_, err := h.Hash(ctx, "toza-uy-2026") // queued behind the held one
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Errorf("a hash queued past the budget: %v, want a BusyError", err)
	}
	close(open)
	if err := <-first; err != nil {
		t.Errorf("the held hash: %v", err)
	}
}

// waitAdmitted waits, without sleeping, until n hashes are admitted.
func waitAdmitted(t *testing.T, h *Hasher, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
		if got, _, _ := h.Load(); got == n {
			return
		}
	}
	t.Fatalf("%d hashes were never admitted", n)
}

// A place reserved counts against the capacity before its hash runs (a
// login's database work comes between), gives itself back once, and runs
// one hash.
func TestHasherPlaces(t *testing.T) {
	ctx := context.Background()
	// Two places: one worker, a hash assumed to take half the budget.
	h := NewHasher(1, WithEstimate(50*time.Millisecond), WithBudget(100*time.Millisecond))
	a, err := h.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	var busy *BusyError
	if _, err := h.Reserve(); !errors.As(err, &busy) {
		t.Fatalf("a third place of two: %v, want a BusyError", err)
	}
	if n := h.Hashing(); n != 0 {
		t.Errorf("%d hashing with two places reserved and none run, want 0", n)
	}
	b.Release()
	b.Release() // a second time: nothing more
	if n, _, _ := h.Load(); n != 1 {
		t.Fatalf("%d admitted after one release, want 1", n)
	}
	hash, err := HashPassword("toza-uy-2026")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Check(ctx, hash, "toza-uy-2026"); !ok || err != nil {
		t.Fatalf("the place's check = %v, %v", ok, err)
	}
	a.Release() // after its hash: nothing
	if n, _, _ := h.Load(); n != 0 {
		t.Fatalf("%d admitted after the hash, want 0", n)
	}
	if _, err := a.Check(ctx, hash, "toza-uy-2026"); !errors.Is(err, errPlaceUsed) {
		t.Errorf("a second hash on one place: %v, want errPlaceUsed", err)
	}
	if err := b.CheckNoUser(ctx, "x"); !errors.Is(err, errPlaceUsed) {
		t.Errorf("a hash on a place given back: %v, want errPlaceUsed", err)
	}
	if n, _, _ := h.Load(); n != 0 {
		t.Errorf("%d admitted after refused uses, want 0", n)
	}
}
