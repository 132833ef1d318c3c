package auth

import (
	"context"
	"runtime"
)

// Hasher bounds how many password hashes run at once (about 19 MiB and tens
// of milliseconds each), so a flood of logins queues here instead of taking
// every core and all the memory from the rest of the app.
type Hasher struct{ slots chan struct{} }

// NewHasher allows n hashes at once; n <= 0 means one per core but one, so
// a flood of logins always leaves a core to everything else (measured on 2
// cores: with both hashing, the home page fell to 5 % of its rate).
func NewHasher(n int) *Hasher {
	if n <= 0 {
		n = max(1, runtime.NumCPU()-1)
	}
	return &Hasher{slots: make(chan struct{}, n)}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash is HashPassword within the bound.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return HashPassword(password)
}

// Check is CheckPassword within the bound.
func (h *Hasher) Check(ctx context.Context, hash, password string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	return CheckPassword(hash, password)
}

// CheckNoUser is CheckNoUser within the bound.
func (h *Hasher) CheckNoUser(ctx context.Context, password string) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	CheckNoUser(password)
	return nil
}
