package service

import "time"

// Webhook is a webhook as the API shows it: its settings (not the secret) and how its deliveries go.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// DeliveredThrough is the last event id dealt with (delivered, skipped by the filter, or given up on).
	DeliveredThrough uint64 `json:"delivered_through"`
	// Backlog is how many events came after it.
	Backlog int64 `json:"backlog"`
	// Failing: the last attempt failed and the event is being retried.
	Failing       bool       `json:"failing"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at,omitempty"`
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	// Delivered, Retries and GivenUp count since the daemon started.
	Delivered int64 `json:"delivered"`
	Retries   int64 `json:"retries"`
	GivenUp   int64 `json:"given_up"`
	// Regions, in a cluster, say where each region's deliveries to the webhook stand (every region's owner
	// delivers its own events); empty for a single daemon.
	Regions []WebhookRegion `json:"regions,omitempty"`
}

// WebhookRegion is where one region's deliveries to a webhook stand, as the answering node's replica of the
// region has them: the owner's own cursor, or on a standby the cursor the owner last journaled.
type WebhookRegion struct {
	Region string `json:"region"`
	// DeliveredThrough is the last of the region's event ids dealt with; Backlog is how many came after it.
	DeliveredThrough uint64 `json:"delivered_through"`
	Backlog          int64  `json:"backlog"`
}

// WebhookInput is a webhook as an admin sets it.
type WebhookInput struct {
	ID     string
	URL    string
	Secret string
	Events []string
}
