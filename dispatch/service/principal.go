package service

import (
	"crypto/sha256"
	"time"
)

// Roles of a Principal.
const (
	RoleAdmin   = "admin"
	RoleOrders  = "orders"
	RoleCourier = "courier"
	// RoleOperator watches the whole city (stores, couriers, orders, events, the console) and manages no key or
	// webhook.
	RoleOperator = "operator"
)

// Principal is who a request acts as: the admin, an order service (ID is its API key's id) or a courier (ID is the
// courier's id).
type Principal struct {
	Role string
	ID   string
}

// Who names a principal in timelines and events: its key id (an order-service or operator key), its courier id,
// or its role (the admin token).
func (p Principal) Who() string {
	if p.ID != "" {
		return p.ID
	}
	return p.Role
}

// HashToken is how tokens are kept: SHA-256. Tokens are 256-bit random values, so a fast hash is enough (there is
// nothing to brute-force), and a lookup by hash compares no secret byte by byte.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// APIKey is an order-service key. Only the SHA-256 of the key is kept.
type APIKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Hash      []byte     `json:"-"`
}

// KeyRoles are the roles an API key may be made with (POST /v1/api-keys); RoleOrders is the default.
var KeyRoles = []string{RoleOrders, RoleOperator}
