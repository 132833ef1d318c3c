package handlers

import (
	"context"
	"time"
)

// background runs fn after the answer, detached from the request, with a
// bound on how many run at once (a flood is refused, not queued). Close
// waits for those running.
func (h *Handler) background(parent context.Context, fn func(context.Context)) {
	select {
	case h.jobs <- struct{}{}:
	default:
		h.log.Warn("background work refused: too many at once")
		return
	}
	h.jobsRunning.Add(1)
	go func() {
		defer h.jobsRunning.Done()
		defer func() { <-h.jobs }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
		defer cancel()
		fn(ctx)
	}()
}

// Wait blocks until the background work started so far is done; main calls
// it at shutdown, after the server stopped taking requests.
func (h *Handler) Wait() { h.jobsRunning.Wait() }
