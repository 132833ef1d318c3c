package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"tozalash/store"
)

// benchChat opens sockets across conversations and measures how fast and
// how soon messages reach them. Two users (an ADMIN and a customer) share
// each direct conversation, each with perUser sockets open (their tabs).
func benchChat(sockets int) error {
	const perUser = 2
	users := sockets / perUser // 2 sockets (tabs) each
	convs := envInt("BENCH_CHAT_CONVERSATIONS", 200)
	rate := envInt("BENCH_CHAT_RATE", 100) // messages a second, all conversations together
	if 2*convs > users {
		return fmt.Errorf("%d conversations need %d users", convs, 2*convs)
	}
	// BENCH_CHAT_INSTANCES=2: two apps on one database, the two users of
	// each conversation on different ones.
	f, err := newFixtureOn(0, false, envInt("BENCH_CHAT_INSTANCES", 0))
	if err != nil {
		return err
	}
	defer f.close()
	if users > customers {
		return fmt.Errorf("at most %d sockets", customers*perUser)
	}
	// Only an ADMIN starts a conversation with a user (customers write to
	// support and about their orders): the first user of each pair is one.
	// No support thread is used, so their sockets carry the same traffic.
	admin := store.RoleAdmin
	for c := 0; c < convs; c++ {
		if _, err := store.NewUserStore(f.db).Update(context.Background(), f.users[1+2*c].ID, store.UserChange{Role: &admin}); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "signing in %d users…\n", users)
	tokens := make([]string, users)
	var wg sync.WaitGroup
	var loginErr atomic.Value
	sem := make(chan struct{}, 4)
	for i := range tokens {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t, err := f.login(f.users[1+i].Email)
			if err != nil {
				loginErr.Store(err)
			}
			tokens[i] = t
		}(i)
	}
	wg.Wait()
	if err, _ := loginErr.Load().(error); err != nil {
		return err
	}
	convIDs := make([]string, convs)
	for c := 0; c < convs; c++ {
		r, _ := http.NewRequest("POST", f.base+"/chat/conversations", strings.NewReader(`{"username":"`+f.users[1+2*c+1].Username+`"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json")
		r.Header.Set("Authorization", "Bearer "+tokens[2*c])
		res, err := f.client.Do(r)
		if err != nil {
			return err
		}
		var conv struct{ ID string }
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if err := json.Unmarshal(b, &conv); err != nil || conv.ID == "" {
			return fmt.Errorf("start conversation: %d %s", res.StatusCode, b)
		}
		convIDs[c] = conv.ID
	}

	line, err := driveChat(f.bases, "http://127.0.0.1", tokens, convIDs, perUser, rate, time.Duration(envInt("BENCH_CHAT_SECONDS", 20))*time.Second)
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

// driveChat opens perUser sockets for each token (users 2c and 2c+1 share
// conversation c), user u's on bases[u mod len(bases)], sends rate
// messages a second in all for d, and returns the results line.
func driveChat(bases []string, origin string, tokens []string, convIDs []string, perUser, rate int, d time.Duration) (string, error) {
	users, convs := len(tokens), len(convIDs)
	sockets := users * perUser
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	var mu sync.Mutex
	var lat []time.Duration
	var delivered atomic.Int64
	conns := make([][]*websocket.Conn, users)
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	for u := 0; u < users; u++ {
		wsURL := "ws" + strings.TrimPrefix(bases[u%len(bases)], "http") + "/chat/ws?format=json"
		for k := 0; k < perUser; k++ {
			h := http.Header{"Authorization": {"Bearer " + tokens[u]}, "Origin": {origin}}
			conn, _, err := dialer.Dial(wsURL, h)
			if err != nil {
				return "", fmt.Errorf("socket %d: %w", u*perUser+k, err)
			}
			conns[u] = append(conns[u], conn)
			go func() { // every socket reads: the latency is the send time in the body
				for {
					_, data, err := conn.ReadMessage()
					if err != nil {
						return
					}
					var ev struct {
						Type    string
						Message struct{ Body string }
					}
					if json.Unmarshal(data, &ev) != nil || ev.Type != "message" {
						continue
					}
					sent, err := strconv.ParseInt(strings.TrimPrefix(ev.Message.Body, "t="), 10, 64)
					if err != nil {
						continue
					}
					d := time.Since(time.Unix(0, sent))
					delivered.Add(1)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}()
		}
	}
	defer func() {
		for _, cs := range conns {
			for _, c := range cs {
				c.Close()
			}
		}
	}()
	time.Sleep(2 * time.Second) // settle: every socket's first push is done
	runtime.GC()
	var idle runtime.MemStats
	runtime.ReadMemStats(&idle)
	perSocket := (int64(idle.HeapInuse+idle.StackInuse) - int64(before.HeapInuse+before.StackInuse)) / int64(sockets)
	fmt.Fprintf(os.Stderr, "%d sockets open, %d goroutines more\n", sockets, runtime.NumGoroutine()-goroutinesBefore)

	// The conversations' first users send rate messages a second in all,
	// each conversation at an even pace (the rate limit allows 2 a second
	// per user), spread over the interval; the others' sockets stay idle.
	duration := d
	start := time.Now()
	var sent atomic.Int64
	var sendWG sync.WaitGroup
	for c := 0; c < convs; c++ {
		sendWG.Add(1)
		go func(c int) {
			defer sendWG.Done()
			every := time.Duration(convs) * time.Second / time.Duration(rate)
			time.Sleep(time.Duration(c) * every / time.Duration(convs))
			tick := time.NewTicker(every)
			defer tick.Stop()
			for time.Since(start) < duration {
				msg := map[string]string{"conversationId": convIDs[c], "body": "t=" + strconv.FormatInt(time.Now().UnixNano(), 10)}
				// Only the reader goroutine reads; writes from here are the
				// only writes of this socket.
				if err := conns[2*c][0].WriteJSON(msg); err != nil {
					return
				}
				sent.Add(1)
				<-tick.C
			}
		}(c)
	}
	sendWG.Wait()
	time.Sleep(time.Second) // the last ones arrive
	elapsed := time.Since(start)
	mu.Lock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	got := lat
	mu.Unlock()
	if len(got) == 0 {
		return "", fmt.Errorf("no message arrived")
	}
	want := sent.Load() * 2 * int64(perUser) // both members' sockets
	where := ""
	if len(bases) > 1 {
		where = fmt.Sprintf(" over %d instances (each conversation's two users on different ones)", len(bases))
	}
	return fmt.Sprintf("- Chat: %d sockets%s, %d conversations, %d messages a second sent: %d of %d deliveries made, %.0f a second; delivery p50 %s, p99 %s; %d KB a socket in the client's process, idle.",
		sockets, where, convs, rate, delivered.Load(), want, float64(delivered.Load())/elapsed.Seconds(), ms(pct(got, 50)), ms(pct(got, 99)), perSocket/1024), nil
}
