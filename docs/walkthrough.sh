#!/usr/bin/env bash
# The README's walkthrough, step by step, against a running daemon (`make run`, then `bash docs/walkthrough.sh`).
# The README shows this file from its second line on, in two parts, and a test keeps the two equal.
# It may be run again on the same data: it rotates the courier's token, makes a new shop key and places new orders.
set -euo pipefail
API=${API:-http://localhost:8080}
ADMIN=${ADMIN:-$(cat "${DATA_DIR:-var}/admin.token")}
RUN=$(date +%s)-$RANDOM   # makes this run's order ids and idempotency keys its own

# api TOKEN METHOD PATH [curl options]: one request. The status and the route go to stderr ("201 POST /v1/orders"),
# the body to stdout. Any status but 2xx stops the walkthrough, unless it is the one EXPECT names.
api() {
  local token=$1 method=$2 path=$3 body status
  shift 3
  body=$(mktemp)
  status=$(curl -sS -o "$body" -w '%{http_code}' -X "$method" "$API$path" -H "Authorization: Bearer $token" "$@")
  echo "$status $method $path" >&2
  cat "$body"
  rm -f "$body"
  if [[ $status != ${EXPECT:-2??} ]]; then
    echo "walkthrough: $method $path answered $status, expected ${EXPECT:-2xx}" >&2
    return 1
  fi
}

# The admin registers a store and a courier, and makes a key for the shop. A courier's token is shown once: when
# it is registered, or when its token is rotated (?rotate_token=true), as here, so that a second run gets one too.
api "$ADMIN" PUT /v1/stores/store-12 \
  -d '{"name": "Corner shop", "location": {"lat": 31.2304, "lon": 121.4737}, "prep_seconds": 300}' | jq -c '{id, name}'
COURIER=$(api "$ADMIN" PUT '/v1/couriers/rider-7?rotate_token=true' \
  -d '{"name": "Li", "vehicle": "ebike", "capacity": 3}' | jq -r .token)
SHOP=$(api "$ADMIN" POST /v1/api-keys -d '{"name": "shop-backend"}' | jq -r .key)

# The courier goes on shift and reports where it is.
api "$COURIER" POST /v1/courier/shift -d '{"status": "online"}' | jq -c '{id, status}'
api "$COURIER" POST /v1/courier/location \
  -d '{"location": {"lat": 31.2310, "lon": 121.4740}, "speed_mps": 4.2, "heading": 90}'

# A courier's app listens for its route on a stream (server-sent events). To watch it, in another terminal:
#   curl -N $API/v1/courier/stream -H "Authorization: Bearer $COURIER"

# The shop quotes, then places an order (retrying with the same Idempotency-Key never places it twice).
api "$SHOP" POST /v1/quotes -d '{"store_id": "store-12", "dropoff": {"lat": 31.2401, "lon": 121.4801}}' | jq -c
ORDER=$(api "$SHOP" POST /v1/orders -H "Idempotency-Key: shop-7781-$RUN" \
  -d '{"external_id": "shop-7781-'"$RUN"'", "store_id": "store-12", "dropoff": {"lat": 31.2401, "lon": 121.4801},
       "promise_seconds": 1800, "customer": {"name": "Wang", "phone": "+86 138 0000 0000"}}' | jq -r .id)

# An order no courier could deliver in time is refused: 422 with the reason and the figures (a drop-off in New York
# for a store in Shanghai). "accept_late": true would take it, to be delivered however late.
EXPECT=422 api "$SHOP" POST /v1/orders \
  -d '{"store_id": "store-12", "dropoff": {"lat": 40.7128, "lon": -74.0060}}' | jq -c .error.reasons

# Within one dispatch interval (10 s by default) a round puts the order on the courier's route.
for _ in $(seq 60); do
  [[ $(api "$SHOP" GET "/v1/orders/$ORDER" 2>/dev/null | jq -r .status) == assigned ]] && break
  sleep 1
done
api "$COURIER" GET /v1/courier/route | jq -c '[.stops[] | {kind, order_id}]'

# The courier works through it: each step answers the order as it now is.
for step in accept arrived picked_up arrived delivered; do
  api "$COURIER" POST "/v1/courier/orders/$ORDER/$step" | jq -c '{status, courier_id}'
done

# The shop reads the order: status "delivered", its courier, "late", and the timeline of every status.
api "$SHOP" GET "/v1/orders/$ORDER" | jq '{status, courier_id, late, timeline}'

# And the operator sees it in the metrics.
curl -sS "$API/metrics" | grep -E '^dispatchd_orders(_delivered_total)?[{ ]'

# Stores with stock, opening hours and in-store pick-up: a convenience store in Shanghai, open around the clock
# (hours are in the store's own time zone), two pickers, with stock.
api "$ADMIN" PUT /v1/stores/store-21 \
  -d '{"location": {"lat": 31.2350, "lon": 121.4790}, "prep_seconds": 240, "max_active_orders": 2,
       "timezone": "Asia/Shanghai", "inventory": {"milk-1l": 40, "eggs-12": 12},
       "hours": {"mon": ["00:00-24:00"], "tue": ["00:00-24:00"], "wed": ["00:00-24:00"], "thu": ["00:00-24:00"],
                 "fri": ["00:00-24:00"], "sat": ["00:00-24:00"], "sun": ["00:00-24:00"]}}' | jq -c '{id, inventory}'

# Stock changes: set counts, adjust by amounts (409 if available stock would go below zero).
api "$ADMIN" PATCH /v1/stores/store-21/inventory \
  -d '{"set": {"milk-1l": 36}, "adjust": {"eggs-12": -2}}' | jq -c .inventory

# An order by items: the daemon chooses the store, reserves the items and answers with the store, its ready_at and
# pickup_by (the store's closing, when it closes). The shop then cancels it: the milk goes back on the shelf.
MILK=$(api "$SHOP" POST /v1/orders \
  -d '{"items": [{"sku": "milk-1l", "qty": 2}], "dropoff": {"lat": 31.2380, "lon": 121.4810}}' | jq -r .id)
api "$SHOP" POST "/v1/orders/$MILK/cancel" -d '{"reason": "customer changed their mind"}' | jq -c '{id, status}'

# In-store pick-up: the store marks it ready (409 while the store is closed), then collected; the order service
# relays the store's steps.
PICKUP=$(api "$SHOP" POST /v1/orders \
  -d '{"store_id": "store-21", "fulfilment": "pickup", "items": [{"sku": "eggs-12", "qty": 1}], "promise_seconds": 43200}' \
  | jq -r .id)
api "$SHOP" POST "/v1/stores/store-21/orders/$PICKUP/ready" | jq -c '{status}'
api "$SHOP" POST "/v1/stores/store-21/orders/$PICKUP/collected" | jq -c '{status}'

# The store with its stock on hand, what live orders have reserved, and how many orders it is preparing.
api "$SHOP" GET /v1/stores/store-21 | jq -c '{inventory, reserved, preparing}'
