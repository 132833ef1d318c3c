package handlers

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
)

// The requests that miss a session's entry while it is read share that
// read: under load an entry expiring found tens of requests in flight.
func TestRequestsMissingASessionShareOneRead(t *testing.T) {
	a := newAuthCache(time.Second)
	sid, uid := primitive.NewObjectID(), primitive.NewObjectID()
	var reads atomic.Int32
	release := make(chan struct{})
	read := func(context.Context) (*store.User, *store.Session, error) {
		reads.Add(1)
		<-release
		return &store.User{ID: uid, Username: "alice"}, &store.Session{ID: sid, UserID: uid}, nil
	}
	now := time.Now()
	const requests = 20
	var asking, done sync.WaitGroup
	asking.Add(requests)
	done.Add(requests)
	users := make([]*store.User, requests)
	for i := range requests {
		go func() {
			defer done.Done()
			asking.Done()
			u, _, err := a.lookup(context.Background(), sid, now, read)
			if err != nil {
				t.Errorf("lookup: %v", err)
				return
			}
			users[i] = u
		}()
	}
	asking.Wait()
	close(release)
	done.Wait()
	if n := reads.Load(); n != 1 {
		t.Errorf("%d requests read the session %d times, want once", requests, n)
	}
	for i, u := range users {
		if u == nil || u.Username != "alice" {
			t.Fatalf("request %d got %+v", i, u)
		}
		if i > 0 && u == users[0] {
			t.Fatal("two requests share one user: each gets its own copy")
		}
	}
}

// A drop (a logout, a changed account) while a session is read: what that
// read found is not kept, and a request after the drop reads afresh.
func TestASessionReadBeforeADropIsNotKept(t *testing.T) {
	a := newAuthCache(time.Second)
	sid, uid := primitive.NewObjectID(), primitive.NewObjectID()
	version := func(v int) func(context.Context) (*store.User, *store.Session, error) {
		return func(context.Context) (*store.User, *store.Session, error) {
			return &store.User{ID: uid, TokenVersion: v}, &store.Session{ID: sid, UserID: uid}, nil
		}
	}
	now := time.Now()
	started, release := make(chan struct{}), make(chan struct{})
	before := make(chan *store.User)
	go func() {
		u, _, _ := a.lookup(context.Background(), sid, now, func(ctx context.Context) (*store.User, *store.Session, error) {
			close(started)
			<-release
			return version(1)(ctx)
		})
		before <- u
	}()
	<-started
	a.forgetUser(uid) // the password changed: version 2
	after, _, err := a.lookup(context.Background(), sid, now, version(2))
	if err != nil || after.TokenVersion != 2 {
		t.Fatalf("a request after the drop: %+v %v, want version 2 read afresh", after, err)
	}
	close(release)
	if u := <-before; u.TokenVersion != 1 {
		t.Fatalf("the read begun before the drop answered %+v", u)
	}
	later, _, _ := a.lookup(context.Background(), sid, now, version(3))
	if later.TokenVersion != 2 {
		t.Errorf("the entry holds version %d, want 2: the read begun before the drop was kept over the one after it", later.TokenVersion)
	}
}

// A shared read that panics (recoverPanic makes its request a 500) lets
// its waiters go, and the next request reads afresh.
func TestASharedReadThatPanicsLetsItsWaitersGo(t *testing.T) {
	a := newAuthCache(time.Second)
	sid, uid := primitive.NewObjectID(), primitive.NewObjectID()
	now := time.Now()
	started, release := make(chan struct{}), make(chan struct{})
	panicked := make(chan any)
	go func() {
		defer func() { panicked <- recover() }()
		_, _, _ = a.lookup(context.Background(), sid, now, func(context.Context) (*store.User, *store.Session, error) {
			close(started)
			<-release
			panic("the read broke")
		})
	}()
	<-started
	waiter := make(chan *store.User)
	go func() {
		u, _, err := a.lookup(context.Background(), sid, now, func(context.Context) (*store.User, *store.Session, error) {
			return &store.User{ID: uid, Username: "alice"}, &store.Session{ID: sid, UserID: uid}, nil
		})
		if err != nil {
			t.Errorf("the waiter: %v", err)
		}
		waiter <- u
	}()
	close(release)
	if p := <-panicked; p == nil {
		t.Fatal("the read's panic was swallowed")
	}
	if u := <-waiter; u == nil || u.Username != "alice" {
		t.Fatalf("the waiter got %+v, want its own read's user", u)
	}
}
