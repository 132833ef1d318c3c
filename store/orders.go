package store

import (
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Order statuses. An order starts PENDING and ends COMPLETED or CANCELLED.
const (
	StatusPending   = "PENDING"
	StatusCompleted = "COMPLETED"
	StatusCancelled = "CANCELLED"
)

// Order is one booked cleaning. Price is a snapshot of the service's price at
// booking, so later price changes never rewrite history.
type Order struct {
	ID             primitive.ObjectID `bson:"_id" json:"id"`
	UserID         primitive.ObjectID `bson:"userId" json:"userId"`
	ServiceID      primitive.ObjectID `bson:"serviceId" json:"serviceId"`
	Status         string             `bson:"status" json:"status"`
	Price          int64              `bson:"price" json:"price"`
	ScheduledAt    time.Time          `bson:"scheduledAt" json:"scheduledAt"`
	Address        string             `bson:"address" json:"address"`
	Phone          string             `bson:"phone" json:"phone"`
	Notes          string             `bson:"notes" json:"notes"`
	History        []StatusChange     `bson:"history" json:"history"`
	IdempotencyKey string             `bson:"idempotencyKey,omitempty" json:"-"`
	CreatedAt      time.Time          `bson:"createdAt" json:"createdAt"`
	UpdatedAt      time.Time          `bson:"updatedAt" json:"updatedAt"`
}

// StatusChange is one entry of an order's timeline.
type StatusChange struct {
	Status   string             `bson:"status" json:"status"`
	At       time.Time          `bson:"at" json:"at"`
	ByUserID primitive.ObjectID `bson:"byUserId" json:"byUserId"`
	Reason   string             `bson:"reason,omitempty" json:"reason,omitempty"`
}
