package chat

import (
	"sync"
	"testing"
	"time"
)

func TestSlowSubscriberIsDroppedOthersGetEverything(t *testing.T) {
	h := NewLocalHub(4, nil)
	slow := h.Subscribe("slow", "s-slow", false) // never reads
	fast := h.Subscribe("fast", "s-fast", false)
	admin := h.Subscribe("boss", "s-boss", true)
	got := make(chan int)
	go func() {
		n := 0
		for range fast.Events() {
			if n++; n == 100 {
				break
			}
		}
		got <- n
	}()
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Publish(Audience{Users: []string{"slow", "fast"}}, Event{Type: "message"})
		}()
		if i%4 == 3 {
			wg.Wait() // let the fast reader keep up; the slow one never does
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	select {
	case n := <-got:
		if n != 100 {
			t.Errorf("the fast subscriber got %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the fast subscriber was held up")
	}
	select {
	case <-slow.Done():
		if slow.Reason() != EndedSlow {
			t.Errorf("slow ended: %s", slow.Reason())
		}
	default:
		t.Error("the slow subscriber was not dropped")
	}
	select {
	case <-admin.Done():
		t.Error("an ADMIN not in the audience was dropped")
	default:
	}
	if len(admin.Events()) != 0 {
		t.Error("an ADMIN got a message not for support")
	}
}

func TestSupportReachesEveryAdminOnce(t *testing.T) {
	h := NewLocalHub(8, nil)
	a1, a2 := h.Subscribe("a1", "s-a1", true), h.Subscribe("a2", "s-a2", true)
	customer := h.Subscribe("c", "s-c", false)
	h.Publish(Audience{Users: []string{"c", "a1"}, Support: true}, Event{Type: "message"})
	for name, s := range map[string]*Subscription{"a1": a1, "a2": a2, "c": customer} {
		if n := len(s.Events()); n != 1 {
			t.Errorf("%s got %d events", name, n)
		}
	}
}

func TestCloseUserAndShutdown(t *testing.T) {
	h := NewLocalHub(8, nil)
	s1, s2 := h.Subscribe("u", "s-u", false), h.Subscribe("u", "s-u2", false)
	s3 := h.Subscribe("u", "s-u3", false)
	h.CloseSession("s-u3")
	select {
	case <-s3.Done():
	default:
		t.Error("a logout left its socket open")
	}
	select {
	case <-s1.Done():
		t.Error("a logout closed another session's socket")
	default:
	}
	other := h.Subscribe("v", "s-v", false)
	if away, _ := h.AwaySince("u"); away {
		t.Error("u is online")
	}
	h.CloseUser("u")
	for _, s := range []*Subscription{s1, s2} {
		select {
		case <-s.Done():
			if s.Reason() != EndedUser {
				t.Errorf("reason %s", s.Reason())
			}
		default:
			t.Error("a socket of the user stayed open")
		}
	}
	if away, since := h.AwaySince("u"); !away || since.IsZero() {
		t.Errorf("after closing: away %v since %v", away, since)
	}
	if h.Sockets() != 1 {
		t.Errorf("%d sockets", h.Sockets())
	}
	h.Close()
	<-other.Done()
	if other.Reason() != EndedShutdown {
		t.Errorf("shutdown reason %s", other.Reason())
	}
	late := h.Subscribe("w", "s-w", false)
	select {
	case <-late.Done():
	default:
		t.Error("a closed hub took a subscriber")
	}
	s1.Close() // closing twice is harmless
}

func TestRateLimit(t *testing.T) {
	r := NewRateLimit(20, 10*time.Second)
	now := time.Now()
	for i := 0; i < 20; i++ {
		if !r.Allow("u", now.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("message %d refused", i+1)
		}
	}
	if r.Allow("u", now.Add(time.Second)) {
		t.Error("the 21st within 10 s was allowed")
	}
	if !r.Allow("v", now) {
		t.Error("another user was limited")
	}
	if !r.Allow("u", now.Add(10*time.Second+time.Millisecond)) {
		t.Error("still limited after the window")
	}
}
