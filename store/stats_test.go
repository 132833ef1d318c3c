package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"tozalash/store"
	"tozalash/store/storetest"
)

// nonZero drops the zero entries a counter keeps after its last order went.
func nonZero(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func comparable(s *store.Statistics) string {
	days := map[string]map[string]int64{}
	for _, d := range s.PerDay {
		if m := nonZero(d.ByStatus); len(m) > 0 {
			days[d.Date] = m
		}
	}
	return fmt.Sprintf("users %d services %d orders %d revenue %d status %v services %v days %v",
		s.Users, s.Services, s.Orders.N, s.Orders.Revenue, nonZero(s.Orders.ByStatus), nonZero(s.Orders.ByService), days)
}

// Eight clients at once sign up, delete accounts, add, archive and delete
// services, book, complete, cancel, reprice and delete orders, at random;
// afterwards the counters equal a recount from the collections.
func TestCountersEqualARecount(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t)
			users, services, orders := store.NewUserStore(db), store.NewServiceStore(db), store.NewOrderStore(db)
			var mu sync.Mutex
			var userIDs, serviceIDs, orderIDs []primitive.ObjectID
			// pick takes the list by pointer: the writers append to it under
			// mu, so even its header is read under mu.
			pick := func(r *rand.Rand, list *[]primitive.ObjectID) (primitive.ObjectID, bool) {
				mu.Lock()
				defer mu.Unlock()
				ids := *list
				if len(ids) == 0 {
					return primitive.NilObjectID, false
				}
				return ids[r.IntN(len(ids))], true
			}
			for i := 0; i < 3; i++ {
				s := newService(fmt.Sprint("Xizmat ", i), int64(100000+i*25000))
				if err := services.Create(ctx, s); err != nil {
					t.Fatal(err)
				}
				serviceIDs = append(serviceIDs, s.ID)
			}
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					r := rand.New(rand.NewPCG(seed, uint64(w)))
					for i := 0; i < 40; i++ {
						var err error
						switch op := r.IntN(10); {
						case op < 2:
							u := &store.User{Username: fmt.Sprintf("u%d_%d", w, i), Email: fmt.Sprintf("u%d_%d@example.uz", w, i), Role: store.RoleUser}
							if err = users.Create(ctx, u); err == nil {
								mu.Lock()
								userIDs = append(userIDs, u.ID)
								mu.Unlock()
							}
						case op == 2:
							if id, ok := pick(r, &userIDs); ok {
								err = users.Delete(ctx, id)
							}
						case op == 3:
							s := newService(fmt.Sprintf("S%d_%d", w, i), 90000)
							if err = services.Create(ctx, s); err == nil {
								mu.Lock()
								serviceIDs = append(serviceIDs, s.ID)
								mu.Unlock()
							}
						case op == 4:
							if id, ok := pick(r, &serviceIDs); ok {
								if r.IntN(2) == 0 {
									_, err = services.Delete(ctx, id)
								} else {
									active := r.IntN(2) == 0
									_, err = services.Update(ctx, id, store.ServiceChange{Active: &active})
								}
							}
						case op < 8:
							uid, _ := pick(r, &userIDs)
							sid, _ := pick(r, &serviceIDs)
							o := newOrder(uid, sid, fmt.Sprintf("k%d_%d", w, i))
							o.Price = int64(50000 + r.IntN(10)*10000)
							if err = orders.Create(ctx, o); err == nil {
								mu.Lock()
								orderIDs = append(orderIDs, o.ID)
								mu.Unlock()
							}
						case op == 8:
							if id, ok := pick(r, &orderIDs); ok {
								// Any status: the graph refuses most (a conflict),
								// and a visit completed records a payment.
								step := store.Step{To: store.Statuses[r.IntN(len(store.Statuses))]}
								if step.To == store.StatusCompleted {
									step.Payment = &store.Payment{Amount: int64(r.IntN(5) * 10000), Method: store.PayCash}
								}
								_, err = orders.Move(ctx, id, step)
							}
						default:
							if id, ok := pick(r, &orderIDs); ok {
								if r.IntN(2) == 0 {
									err = orders.Delete(ctx, id)
								} else {
									price := int64(r.IntN(9) * 20000)
									_, err = orders.Update(ctx, id, store.OrderChange{Price: &price}, false)
								}
							}
						}
						// Racers lose honestly: a gone id, a finished order.
						if err != nil && !errorsIsAny(err, store.ErrNotFound, store.ErrConflict) {
							t.Error(err)
						}
					}
				}(w)
			}
			wg.Wait()
			counted, err := db.Statistics(ctx, time.Now(), 2)
			if err != nil {
				t.Fatal(err)
			}
			if counted.Orders.N == 0 || counted.Users == 0 {
				t.Fatalf("the run wrote nothing: %s", comparable(counted))
			}
			if _, err := db.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
			recounted, err := db.Statistics(ctx, time.Now(), 2)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := comparable(counted), comparable(recounted); a != b {
				t.Errorf("counters differ from a recount:\ncounted   %s\nrecounted %s", a, b)
			}
			if !reflect.DeepEqual(nonZero(counted.Orders.ByStatus), nonZero(recounted.Orders.ByStatus)) {
				t.Error("status counts differ")
			}
		})
	}
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
