package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// badCase is one entry of the bad-input catalogue: a request and the refusal it must get. Every case is sent to the
// same daemon, whose whole state must be the same after the refusal as before it.
type badCase struct {
	name   string
	method string
	path   string
	role   string // "admin", "orders" or "courier" (the fixture's courier a)
	body   string
	hdr    []string // header name, value, ...
	status int      // 400, 404, 413 or 422
	field  string   // the error's field; "" when the error names none
}

// bodyEndpoint is an endpoint that takes a JSON body, for the classes of bad body that every such endpoint must
// refuse alike. body is a valid body with %s in place of the JSON value of a string field (key, found at path).
type bodyEndpoint struct {
	method, path, role string
	body               string
	key, keyPath       string
	unknownAt          string // where an unknown field spliced into body lands ("" at the top, "locations[0].")
	optional           bool   // an empty body is a valid request
}

func (e bodyEndpoint) with(value string) string { return fmt.Sprintf(e.body, value) }

// bodyEndpoints lists every endpoint with a body. A new one belongs here.
func bodyEndpoints(order string) []bodyEndpoint {
	dropoff := `"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}`
	loc := `"location":{"lat":31.23,"lon":121.47}`
	return []bodyEndpoint{
		{method: "POST", path: "/v1/orders", role: "orders", body: `{"external_id":%s,` + dropoff + `}`, key: "external_id"},
		{method: "POST", path: "/v1/quotes", role: "orders", body: `{"external_id":%s,` + dropoff + `}`, key: "external_id"},
		{method: "POST", path: "/v1/orders/" + order + "/cancel", role: "orders", body: `{"reason":%s}`, key: "reason", optional: true},
		{method: "PUT", path: "/v1/stores/s9", role: "admin", body: `{"name":%s,` + loc + `}`, key: "name"},
		{method: "PUT", path: "/v1/couriers/c9", role: "admin", body: `{"name":%s,"capacity":2}`, key: "name"},
		{method: "PUT", path: "/v1/webhooks/w9", role: "admin", body: `{"url":%s,"secret":"0123456789abcdef"}`, key: "url"},
		{method: "POST", path: "/v1/api-keys", role: "admin", body: `{"name":%s}`, key: "name"},
		{method: "POST", path: "/v1/courier/shift", role: "courier", body: `{"status":%s}`, key: "status"},
		{method: "POST", path: "/v1/courier/location", role: "courier", body: `{` + loc + `,"at":%s}`, key: "at"},
		{method: "POST", path: "/v1/courier-locations", role: "admin", body: `{"locations":[{"courier_id":%s,` + loc + `}]}`,
			key: "courier_id", keyPath: "locations[0].courier_id", unknownAt: "locations[0]."},
		{method: "POST", path: "/v1/courier/orders/" + order + "/accept", role: "courier", body: `{"reason":%s}`, key: "reason", optional: true},
	}
}

// genericCases are the classes of bad body that every endpoint with a body refuses.
func genericCases(e bodyEndpoint) []badCase {
	field := e.key
	if e.keyPath != "" {
		field = e.keyPath
	}
	huge := strings.Repeat("x", 70<<10)
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepInUnknown := `{"x":` + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10001)
	valid := e.with(`"x"`)
	cases := []badCase{
		{name: "Null", body: "null", status: 400},
		{name: "OverLimit", body: e.with(`"` + huge + `"`), status: 413},
		{name: "IdOf100000Bytes", body: e.with(`"` + strings.Repeat("a", 100_000) + `"`), status: 413},
		{name: "Truncated", body: valid[:len(valid)/2], status: 400},
		{name: "TrailingGarbage", body: valid + " garbage", status: 400},
		{name: "TwoValues", body: valid + valid, status: 400},
		{name: "Array", body: "[" + valid + "]", status: 400},
		{name: "String", body: `"` + e.key + `"`, status: 400},
		{name: "Number", body: "42", status: 400},
		{name: "UnquotedNaN", body: e.with("NaN"), status: 400},
		{name: "NestedTenThousandDeep", body: deep, status: 400},
		{name: "NestedTenThousandDeepInAField", body: deepInUnknown, status: 400, field: "x"},
		{name: "UnknownField", body: e.with(`"x","colour":"red"`), status: 400, field: e.unknownAt + "colour"},
		{name: "FieldTwice", body: e.with(`"x","` + e.key + `":"y"`), status: 400, field: field},
		{name: "FieldTwiceOtherCase", body: e.with(`"x","` + strings.ToUpper(e.key) + `":"y"`), status: 400, field: e.unknownAt + strings.ToUpper(e.key)},
		{name: "WrongType", body: e.with(`{"a":1}`), status: 400, field: field},
		{name: "WrongTypeNumber", body: e.with(`12`), status: 400, field: field},
		{name: "InvalidUTF8", body: e.with("\"a\xffb\""), status: 400, field: field},
		{name: "InvalidUTF8Key", body: e.with("\"x\",\"\xfe\":1"), status: 400, field: e.unknownAt + "\uFFFD"},
		{name: "InvalidUTF8AfterValue", body: valid + "\xff", status: 400},
	}
	if !e.optional {
		cases = append(cases,
			badCase{name: "Empty", body: "", status: 400},
			badCase{name: "Whitespace", body: " \n\t\r ", status: 400},
		)
	}
	for i := range cases {
		c := &cases[i]
		c.method, c.path, c.role = e.method, e.path, e.role
	}
	return cases
}

// specificCases are each endpoint's own bad values: coordinates, times, sizes, ids, queries and headers.
func specificCases(order string, now time.Time) []badCase {
	at := func(d time.Duration) string { return `"` + now.Add(d).UTC().Format(time.RFC3339) + `"` }
	year1, year9999 := `"0001-01-01T00:00:00Z"`, `"9999-12-31T23:59:59Z"`
	id65 := strings.Repeat("a", 65)
	id100k := strings.Repeat("a", 100_000)
	order1 := func(extra string) string {
		return `{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48},` + extra + `}`
	}
	dropoff := func(loc string) string { return `{"store_id":"s1","dropoff":` + loc + `}` }
	var cases []badCase
	for _, path := range []string{"/v1/orders", "/v1/quotes"} {
		add := func(name, body string, status int, field string) {
			cases = append(cases, badCase{name: name, method: "POST", path: path, role: "orders", body: body, status: status, field: field})
		}
		// Coordinates.
		add("LatNaNString", dropoff(`{"lat":"NaN","lon":121.48}`), 400, "dropoff.lat")
		add("LonInfinityString", dropoff(`{"lat":31.24,"lon":"Infinity"}`), 400, "dropoff.lon")
		add("LatOverflow", dropoff(`{"lat":1e999,"lon":121.48}`), 400, "dropoff.lat")
		add("LonOverflowNegative", dropoff(`{"lat":31.24,"lon":-1e999}`), 400, "dropoff.lon")
		add("LatOver90", dropoff(`{"lat":90.0001,"lon":121.48}`), 400, "dropoff.lat")
		add("LatUnderMinus90", dropoff(`{"lat":-91,"lon":121.48}`), 400, "dropoff.lat")
		add("LonOver180", dropoff(`{"lat":31.24,"lon":180.5}`), 400, "dropoff.lon")
		add("LonUnderMinus180", dropoff(`{"lat":31.24,"lon":-181}`), 400, "dropoff.lon")
		add("LatMissing", dropoff(`{"lon":121.48}`), 400, "dropoff.lat")
		add("LatNull", dropoff(`{"lat":null,"lon":121.48}`), 400, "dropoff.lat")
		add("DropoffMissing", `{"store_id":"s1"}`, 400, "dropoff")
		add("DropoffString", dropoff(`"31.24,121.48"`), 400, "dropoff")
		add("DropoffArray", dropoff(`[31.24,121.48]`), 400, "dropoff")
		add("DropoffUnknownField", dropoff(`{"lat":31.24,"lon":121.48,"alt":3}`), 400, "dropoff.alt")
		add("LatBool", dropoff(`{"lat":true,"lon":121.48}`), 400, "dropoff.lat")
		// Ids.
		add("StoreIDMissing", `{"dropoff":{"lat":31.24,"lon":121.48}}`, 400, "store_id")
		add("StoreIDOf65Bytes", `{"store_id":"`+id65+`","dropoff":{"lat":31.24,"lon":121.48}}`, 400, "store_id")
		add("StoreIDWithSpace", `{"store_id":"s 1","dropoff":{"lat":31.24,"lon":121.48}}`, 400, "store_id")
		add("StoreIDInvalidUTF8", "{\"store_id\":\"s\xc31\",\"dropoff\":{\"lat\":31.24,\"lon\":121.48}}", 400, "store_id")
		add("StoreIDNumber", `{"store_id":1,"dropoff":{"lat":31.24,"lon":121.48}}`, 400, "store_id")
		add("ExternalIDOf256Bytes", order1(`"external_id":"`+strings.Repeat("e", 256)+`"`), 400, "external_id")
		// Times.
		add("ReadyAtYear1", order1(`"ready_at":`+year1), 400, "ready_at")
		add("ReadyAtYear9999", order1(`"ready_at":`+year9999), 400, "ready_at")
		add("ReadyAtAfterDeliverBy", order1(`"ready_at":`+at(2*time.Hour)+`,"deliver_by":`+at(time.Hour)), 400, "ready_at")
		add("ReadyAtNotATime", order1(`"ready_at":"tomorrow"`), 400, "ready_at")
		add("ReadyAtMonth13", order1(`"ready_at":"2026-13-01T00:00:00Z"`), 400, "ready_at")
		add("ReadyAtNumber", order1(`"ready_at":1700000000`), 400, "ready_at")
		add("ReadyAtAndPrepSeconds", order1(`"ready_at":`+at(time.Minute)+`,"prep_seconds":60`), 400, "ready_at")
		add("DeliverByYear1", order1(`"deliver_by":`+year1), 400, "deliver_by")
		add("DeliverByYear9999", order1(`"deliver_by":`+year9999), 400, "deliver_by")
		add("DeliverByBeforeCreated", order1(`"deliver_by":`+at(-time.Minute)), 400, "deliver_by")
		add("DeliverByInTenYears", order1(`"deliver_by":`+at(10*365*24*time.Hour)), 400, "deliver_by")
		add("DeliverByAndPromise", order1(`"deliver_by":`+at(time.Hour)+`,"promise_seconds":1800`), 400, "deliver_by")
		add("PromiseZero", order1(`"promise_seconds":0`), 400, "promise_seconds")
		add("PromiseNegative", order1(`"promise_seconds":-1800`), 400, "promise_seconds")
		add("PromiseTenYears", order1(`"promise_seconds":315360000`), 400, "promise_seconds")
		add("PromiseFraction", order1(`"promise_seconds":1800.5`), 400, "promise_seconds")
		add("PromiseOverflow", order1(`"promise_seconds":1e30`), 400, "promise_seconds")
		add("PrepNegative", order1(`"prep_seconds":-1`), 400, "prep_seconds")
		add("PrepOverADay", order1(`"prep_seconds":86401`), 400, "prep_seconds")
		// Sizes.
		add("SizeZero", order1(`"size":0`), 400, "size")
		add("SizeNegative", order1(`"size":-3`), 400, "size")
		add("SizeHuge", order1(`"size":1000000`), 400, "size")
		add("SizeOverflow", order1(`"size":1e30`), 400, "size")
		add("SizeString", order1(`"size":"big"`), 400, "size")
		// Arrays and opaque values.
		add("ItemsEmpty", `{"items":[],"dropoff":{"lat":31.24,"lon":121.48}}`, 400, "items")
		add("SkillsString", order1(`"skills":"cold"`), 400, "skills")
		add("SkillEmpty", order1(`"skills":["cold",""]`), 400, "skills[1]")
		add("SkillNumber", order1(`"skills":["cold",7]`), 400, "skills[1]")
		add("SkillOf65Bytes", order1(`"skills":["`+id65+`"]`), 400, "skills[0]")
		add("CustomerString", order1(`"customer":"Wang"`), 400, "customer")
		add("CustomerArray", order1(`"customer":["Wang"]`), 400, "customer")
		add("CustomerInvalidUTF8", order1("\"customer\":{\"name\":\"W\xe0ng\"}"), 400, "customer.name")
		add("CustomerTenThousandDeep", order1(`"customer":`+strings.Repeat(`{"a":`, 10000)+`1`+strings.Repeat(`}`, 10000)),
			400, "customer"+strings.Repeat(".a", maxDepth-1))
		add("CustomerKeyTwice", order1(`"customer":{"name":"a","name":"b"}`), 400, "customer.name")
	}
	// Headers of an order.
	valid := `{"store_id":"s1","dropoff":{"lat":31.24,"lon":121.48}}`
	cases = append(cases,
		badCase{name: "IdempotencyKeyOf256", method: "POST", path: "/v1/orders", role: "orders", body: valid,
			hdr: []string{"Idempotency-Key", strings.Repeat("k", 256)}, status: 400, field: "Idempotency-Key"},
		badCase{name: "IdempotencyKeyInvalidUTF8", method: "POST", path: "/v1/orders", role: "orders", body: valid,
			hdr: []string{"Idempotency-Key", "key-\xff"}, status: 400, field: "Idempotency-Key"},
		badCase{name: "UnknownStore", method: "POST", path: "/v1/orders", role: "orders",
			body: `{"store_id":"nope","dropoff":{"lat":31.24,"lon":121.48}}`, status: 422, field: "store_id"},
	)

	// Fulfilment: items, in-store pick-up, stock changes and store steps.
	drop := `"dropoff":{"lat":31.24,"lon":121.48}`
	for _, c := range []struct {
		name, method, path, role, body string
		status                         int
		field                          string
	}{
		{"ItemSKUEmpty", "POST", "/v1/orders", "orders", `{"items":[{"sku":"","qty":1}],` + drop + `}`, 400, "items[0].sku"},
		{"ItemSKUOf129", "POST", "/v1/orders", "orders", `{"items":[{"sku":"` + strings.Repeat("k", 129) + `","qty":1}],` + drop + `}`, 400, "items[0].sku"},
		{"ItemQtyNegative", "POST", "/v1/orders", "orders", `{"items":[{"sku":"milk","qty":-1}],` + drop + `}`, 400, "items[0].qty"},
		{"ItemQtyHuge", "POST", "/v1/orders", "orders", `{"items":[{"sku":"milk","qty":100001}],` + drop + `}`, 400, "items[0].qty"},
		{"ItemQtyString", "POST", "/v1/orders", "orders", `{"items":[{"sku":"milk","qty":"1"}],` + drop + `}`, 400, "items[0].qty"},
		{"ItemUnknownField", "POST", "/v1/orders", "orders", `{"items":[{"sku":"milk","qty":1,"price":3}],` + drop + `}`, 400, "items[0].price"},
		{"ItemsTooMany", "POST", "/v1/orders", "orders", `{"items":[` + strings.Repeat(`{"sku":"a","qty":1},`, 200) + `{"sku":"a","qty":1}],` + drop + `}`, 400, "items"},
		{"FulfilmentUnknown", "POST", "/v1/orders", "orders", `{"store_id":"s1","fulfilment":"drone",` + drop + `}`, 400, "fulfilment"},
		{"PickupNoStoreNoDropoff", "POST", "/v1/orders", "orders", `{"fulfilment":"pickup","items":[{"sku":"milk","qty":1}]}`, 400, "dropoff"},
		{"ItemsOutOfStock", "POST", "/v1/orders", "orders", `{"items":[{"sku":"milk","qty":1}],` + drop + `}`, 422, "items"},
		{"InventoryEmpty", "PATCH", "/v1/stores/s1/inventory", "admin", `{}`, 400, "set"},
		{"InventorySetNegative", "PATCH", "/v1/stores/s1/inventory", "admin", `{"set":{"milk":-1}}`, 400, "set.milk"},
		{"InventorySetHuge", "PATCH", "/v1/stores/s1/inventory", "admin", `{"set":{"milk":1e12}}`, 400, "set.milk"},
		{"InventorySKUEmpty", "PATCH", "/v1/stores/s1/inventory", "admin", `{"set":{"":1}}`, 400, "set"},
		{"InventoryAdjustBelowZero", "PATCH", "/v1/stores/s1/inventory", "admin", `{"adjust":{"milk":-1}}`, 409, "adjust.milk"},
		{"InventoryWrongType", "PATCH", "/v1/stores/s1/inventory", "admin", `{"set":["milk"]}`, 400, "set"},
		{"InventoryUnknownField", "PATCH", "/v1/stores/s1/inventory", "admin", `{"sett":{"milk":1}}`, 400, "sett"},
		{"InventoryUnknownStore", "PATCH", "/v1/stores/nope/inventory", "admin", `{"set":{"milk":1}}`, 404, ""},
		{"StoreHoursDay", "PUT", "/v1/stores/s9", "admin", `{"location":{"lat":31.2,"lon":121.4},"hours":{"funday":["08:00-18:00"]}}`, 400, "hours.funday"},
		{"StoreHoursSpan", "PUT", "/v1/stores/s9", "admin", `{"location":{"lat":31.2,"lon":121.4},"hours":{"mon":["08:00-25:00"]}}`, 400, "hours.mon[0]"},
		{"StoreTimezone", "PUT", "/v1/stores/s9", "admin", `{"location":{"lat":31.2,"lon":121.4},"timezone":"Atlantis/Capital"}`, 400, "timezone"},
		{"StoreActionBody", "POST", "/v1/stores/s1/orders/" + order + "/ready", "orders", `{"x":1}`, 400, "x"},
		{"StoreActionUnknown", "POST", "/v1/stores/s1/orders/" + order + "/packed", "orders", ``, 404, ""},
		{"StoreActionDeliveryOrder", "POST", "/v1/stores/s1/orders/" + order + "/ready", "orders", ``, 409, ""},
	} {
		cases = append(cases, badCase{name: c.name, method: c.method, path: c.path, role: c.role, body: c.body, status: c.status, field: c.field})
	}

	// Stores.
	store := func(name, path, body string, status int, field string) {
		cases = append(cases, badCase{name: name, method: "PUT", path: path, role: "admin", body: body, status: status, field: field})
	}
	loc := `"location":{"lat":31.2,"lon":121.4}`
	store("StoreIDOf65Bytes", "/v1/stores/"+id65, `{`+loc+`}`, 400, "store_id")
	store("StoreIDOf100000Bytes", "/v1/stores/"+id100k, `{`+loc+`}`, 400, "store_id")
	store("StoreIDWithSlash", "/v1/stores/a%2Fb", `{`+loc+`}`, 400, "store_id")
	store("StoreIDInvalidUTF8", "/v1/stores/s%FF", `{`+loc+`}`, 400, "store_id")
	store("LocationMissing", "/v1/stores/s9", `{"name":"x"}`, 400, "location")
	store("LatNaNString", "/v1/stores/s9", `{"location":{"lat":"NaN","lon":121.4}}`, 400, "location.lat")
	store("LonOverflow", "/v1/stores/s9", `{"location":{"lat":31.2,"lon":1e999}}`, 400, "location.lon")
	store("LatOutOfRange", "/v1/stores/s9", `{"location":{"lat":-90.5,"lon":121.4}}`, 400, "location.lat")
	store("PrepNegative", "/v1/stores/s9", `{`+loc+`,"prep_seconds":-1}`, 400, "prep_seconds")
	store("MaxActiveNegative", "/v1/stores/s9", `{`+loc+`,"max_active_orders":-1}`, 400, "max_active_orders")
	store("NameOf201Bytes", "/v1/stores/s9", `{`+loc+`,"name":"`+strings.Repeat("n", 201)+`"}`, 400, "name")
	store("TimezoneOf65Bytes", "/v1/stores/s9", `{`+loc+`,"timezone":"`+id65+`"}`, 400, "timezone")
	store("InventoryArray", "/v1/stores/s9", `{`+loc+`,"inventory":[1]}`, 400, "inventory")
	store("InventoryEmptySKU", "/v1/stores/s9", `{`+loc+`,"inventory":{"":1}}`, 400, "inventory")
	store("InventorySKUOf129Bytes", "/v1/stores/s9", `{`+loc+`,"inventory":{"`+strings.Repeat("k", 129)+`":1}}`, 400, "inventory")
	store("InventoryNegative", "/v1/stores/s9", `{`+loc+`,"inventory":{"milk":-1}}`, 400, "inventory.milk")
	store("InventoryFraction", "/v1/stores/s9", `{`+loc+`,"inventory":{"milk":1.5}}`, 400, "inventory.milk")
	store("InventoryString", "/v1/stores/s9", `{`+loc+`,"inventory":{"milk":"lots"}}`, 400, "inventory.milk")
	store("InventorySKUTwice", "/v1/stores/s9", `{`+loc+`,"inventory":{"milk":1,"milk":2}}`, 400, "inventory.milk")
	store("HoursTenThousandDeep", "/v1/stores/s9", `{`+loc+`,"hours":`+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`}`,
		400, "hours"+strings.Repeat("[0]", maxDepth-1))

	// Couriers.
	courier := func(name, path, body string, status int, field string) {
		cases = append(cases, badCase{name: name, method: "PUT", path: path, role: "admin", body: body, status: status, field: field})
	}
	courier("CourierIDOf65Bytes", "/v1/couriers/"+id65, `{"capacity":1}`, 400, "courier_id")
	courier("CourierIDOf100000Bytes", "/v1/couriers/"+id100k, `{"capacity":1}`, 400, "courier_id")
	courier("CourierIDBadCharacters", "/v1/couriers/a%3Cb%3E", `{"capacity":1}`, 400, "courier_id")
	courier("CourierIDInvalidUTF8", "/v1/couriers/c%C3", `{"capacity":1}`, 400, "courier_id")
	courier("CapacityZero", "/v1/couriers/c9", `{"capacity":0}`, 400, "capacity")
	courier("CapacityNegative", "/v1/couriers/c9", `{"capacity":-2}`, 400, "capacity")
	courier("CapacityHuge", "/v1/couriers/c9", `{"capacity":1000000}`, 400, "capacity")
	courier("CapacityOverflow", "/v1/couriers/c9", `{"capacity":1e30}`, 400, "capacity")
	courier("CapacityString", "/v1/couriers/c9", `{"capacity":"4"}`, 400, "capacity")
	courier("VehicleUnknown", "/v1/couriers/c9", `{"vehicle":"rocket"}`, 400, "vehicle")
	courier("VehicleNumber", "/v1/couriers/c9", `{"vehicle":2}`, 400, "vehicle")
	courier("SkillsString", "/v1/couriers/c9", `{"skills":"cold"}`, 400, "skills")
	courier("SkillEmpty", "/v1/couriers/c9", `{"skills":[""]}`, 400, "skills[0]")
	courier("SkillOf65Bytes", "/v1/couriers/c9", `{"skills":["ok","`+id65+`"]}`, 400, "skills[1]")
	courier("NameOf201Bytes", "/v1/couriers/c9", `{"name":"`+strings.Repeat("n", 201)+`"}`, 400, "name")
	courier("RotateTokenNotABool", "/v1/couriers/a?rotate_token=maybe", `{"capacity":2}`, 400, "rotate_token")
	courier("UnknownQueryParameter", "/v1/couriers/a?colour=red", `{"capacity":2}`, 400, "colour")

	// Webhooks.
	hook := func(name, path, body string, status int, field string) {
		cases = append(cases, badCase{name: name, method: "PUT", path: path, role: "admin", body: body, status: status, field: field})
	}
	secret := `"secret":"0123456789abcdef"`
	hook("WebhookIDOf65Bytes", "/v1/webhooks/"+id65, `{"url":"http://127.0.0.1:9/h",`+secret+`}`, 400, "webhook_id")
	hook("WebhookIDInvalidUTF8", "/v1/webhooks/w%FE", `{"url":"http://127.0.0.1:9/h",`+secret+`}`, 400, "webhook_id")
	hook("URLMissing", "/v1/webhooks/w9", `{`+secret+`}`, 400, "url")
	hook("URLNotHTTP", "/v1/webhooks/w9", `{"url":"ftp://127.0.0.1/h",`+secret+`}`, 400, "url")
	hook("URLRelative", "/v1/webhooks/w9", `{"url":"/hook",`+secret+`}`, 400, "url")
	hook("URLOf2001Bytes", "/v1/webhooks/w9", `{"url":"http://127.0.0.1/`+strings.Repeat("u", 1985)+`",`+secret+`}`, 400, "url")
	hook("SecretShort", "/v1/webhooks/w9", `{"url":"http://127.0.0.1:9/h","secret":"short"}`, 400, "secret")
	hook("SecretOf257Bytes", "/v1/webhooks/w9", `{"url":"http://127.0.0.1:9/h","secret":"`+strings.Repeat("s", 257)+`"}`, 400, "secret")
	hook("EventUnknown", "/v1/webhooks/w9", `{"url":"http://127.0.0.1:9/h",`+secret+`,"events":["order.created","order.eaten"]}`, 400, "events[1]")
	hook("EventsString", "/v1/webhooks/w9", `{"url":"http://127.0.0.1:9/h",`+secret+`,"events":"order.created"}`, 400, "events")

	// Keys.
	for _, c := range []struct{ name, body, field string }{
		{"NameMissing", `{}`, "name"},
		{"NameEmpty", `{"name":""}`, "name"},
		{"NameOf201Bytes", `{"name":"` + strings.Repeat("n", 201) + `"}`, "name"},
	} {
		cases = append(cases, badCase{name: c.name, method: "POST", path: "/v1/api-keys", role: "admin", body: c.body, status: 400, field: c.field})
	}

	// The courier's own requests.
	courierReq := func(name, path, body string, status int, field string, hdr ...string) {
		cases = append(cases, badCase{name: name, method: "POST", path: path, role: "courier", body: body, hdr: hdr, status: status, field: field})
	}
	courierReq("ShiftStatusUnknown", "/v1/courier/shift", `{"status":"asleep"}`, 400, "status")
	courierReq("ShiftStatusMissing", "/v1/courier/shift", `{}`, 400, "status")
	courierReq("ShiftStatusBool", "/v1/courier/shift", `{"status":true}`, 400, "status")
	courierReq("ShiftLatNaN", "/v1/courier/shift", `{"status":"online","location":{"lat":"NaN","lon":121.4}}`, 400, "location.lat")
	courierReq("ShiftLonOutOfRange", "/v1/courier/shift", `{"status":"online","location":{"lat":31.2,"lon":-200}}`, 400, "location.lon")
	courierReq("ShiftLonMissing", "/v1/courier/shift", `{"status":"online","location":{"lat":31.2}}`, 400, "location.lon")
	courierReq("ShiftEndYear1", "/v1/courier/shift", `{"status":"online","shift_end":`+year1+`}`, 400, "shift_end")
	courierReq("ShiftEndYear9999", "/v1/courier/shift", `{"status":"online","shift_end":`+year9999+`}`, 400, "shift_end")
	courierReq("ShiftEndPast", "/v1/courier/shift", `{"status":"online","shift_end":`+at(-time.Minute)+`}`, 400, "shift_end")
	courierReq("ShiftEndNotATime", "/v1/courier/shift", `{"status":"online","shift_end":"18:00"}`, 400, "shift_end")
	here := `"location":{"lat":31.232,"lon":121.475}`
	courierReq("LocationMissing", "/v1/courier/location", `{"at":`+at(0)+`}`, 400, "location")
	courierReq("LocationNull", "/v1/courier/location", `{"location":null}`, 400, "location")
	courierReq("LatNaNString", "/v1/courier/location", `{"location":{"lat":"NaN","lon":121.4}}`, 400, "location.lat")
	courierReq("LatInfinity", "/v1/courier/location", `{"location":{"lat":1e999,"lon":121.4}}`, 400, "location.lat")
	courierReq("LatOutOfRange", "/v1/courier/location", `{"location":{"lat":90.5,"lon":121.4}}`, 400, "location.lat")
	courierReq("LonOutOfRange", "/v1/courier/location", `{"location":{"lat":31.2,"lon":180.01}}`, 400, "location.lon")
	courierReq("LocationUnknownField", "/v1/courier/location", `{"location":{"lat":31.2,"lon":121.4,"alt":4}}`, 400, "location.alt")
	courierReq("AtYear1", "/v1/courier/location", `{`+here+`,"at":`+year1+`}`, 400, "at")
	courierReq("AtYear9999", "/v1/courier/location", `{`+here+`,"at":`+year9999+`}`, 400, "at")
	courierReq("AtTwoDaysAgo", "/v1/courier/location", `{`+here+`,"at":`+at(-48*time.Hour)+`}`, 400, "at")
	courierReq("AtNotATime", "/v1/courier/location", `{`+here+`,"at":"now"}`, 400, "at")
	courierReq("SpeedNegative", "/v1/courier/location", `{`+here+`,"speed_mps":-1}`, 400, "speed_mps")
	courierReq("SpeedHuge", "/v1/courier/location", `{`+here+`,"speed_mps":1e308}`, 400, "speed_mps")
	courierReq("SpeedNaNString", "/v1/courier/location", `{`+here+`,"speed_mps":"NaN"}`, 400, "speed_mps")
	courierReq("HeadingFullCircle", "/v1/courier/location", `{`+here+`,"heading":360}`, 400, "heading")
	courierReq("HeadingNegative", "/v1/courier/location", `{`+here+`,"heading":-0.5}`, 400, "heading")
	courierReq("AccuracyNegative", "/v1/courier/location", `{`+here+`,"accuracy_m":-5}`, 400, "accuracy_m")
	courierReq("ReasonOf501Bytes", "/v1/courier/orders/"+order+"/decline", `{"reason":"`+strings.Repeat("r", 501)+`"}`, 400, "reason")
	courierReq("UnknownAction", "/v1/courier/orders/"+order+"/teleport", ``, 404, "")
	courierReq("OrderIDOf100000Bytes", "/v1/courier/orders/"+id100k+"/accept", ``, 404, "")
	courierReq("OrderIDInvalidUTF8", "/v1/courier/orders/ord%FF/accept", ``, 404, "")

	// A batch of positions.
	batch := func(name, body, field string) {
		cases = append(cases, badCase{name: name, method: "POST", path: "/v1/courier-locations", role: "admin", body: body, status: 400, field: field})
	}
	entry := `{"courier_id":"a",` + here + `}`
	batch("LocationsMissing", `{}`, "locations")
	batch("LocationsNull", `{"locations":null}`, "locations")
	batch("LocationsEmpty", `{"locations":[]}`, "locations")
	batch("LocationsObject", `{"locations":{}}`, "locations")
	batch("OverAThousand", `{"locations":[`+strings.TrimSuffix(strings.Repeat(`{"courier_id":"a","location":{"lat":1,"lon":2}},`, 1001), ",")+`]}`, "locations")
	batch("CourierIDMissing", `{"locations":[`+entry+`,{`+here+`}]}`, "locations[1].courier_id")
	batch("CourierIDOf65Bytes", `{"locations":[{"courier_id":"`+id65+`",`+here+`}]}`, "locations[0].courier_id")
	batch("CourierIDInvalidUTF8", "{\"locations\":[{\"courier_id\":\"\xc0\",\"location\":{\"lat\":31.2,\"lon\":121.4}}]}", "locations[0].courier_id")
	batch("CourierUnknown", `{"locations":[`+entry+`,{"courier_id":"ghost",`+here+`}]}`, "locations[1].courier_id")
	batch("LatNaNString", `{"locations":[`+entry+`,{"courier_id":"b","location":{"lat":"NaN","lon":121.4}}]}`, "locations[1].location.lat")
	batch("LonOverflow", `{"locations":[{"courier_id":"b","location":{"lat":31.2,"lon":-1e999}}]}`, "locations[0].location.lon")
	batch("LatOutOfRange", `{"locations":[{"courier_id":"b","location":{"lat":100,"lon":121.4}}]}`, "locations[0].location.lat")
	batch("AtYear1", `{"locations":[{"courier_id":"b",`+here+`,"at":`+year1+`}]}`, "locations[0].at")
	batch("AtYear9999", `{"locations":[`+entry+`,{"courier_id":"b",`+here+`,"at":`+year9999+`}]}`, "locations[1].at")
	batch("EntryString", `{"locations":["a"]}`, "locations[0]")

	// Orders: cancel.
	cases = append(cases,
		badCase{name: "CancelReasonOf501Bytes", method: "POST", path: "/v1/orders/" + order + "/cancel", role: "orders",
			body: `{"reason":"` + strings.Repeat("r", 501) + `"}`, status: 400, field: "reason"},
		badCase{name: "CancelOrderIDOf100000Bytes", method: "POST", path: "/v1/orders/" + id100k + "/cancel", role: "orders", status: 404},
	)

	// Queries.
	get := func(name, path, role string, status int, field string, hdr ...string) {
		cases = append(cases, badCase{name: name, method: "GET", path: path, role: role, hdr: hdr, status: status, field: field})
	}
	esc := url.QueryEscape
	get("OrdersStatusUnknown", "/v1/orders?status=lost", "orders", 400, "status")
	get("OrdersLimitZero", "/v1/orders?limit=0", "orders", 400, "limit")
	get("OrdersLimitNegative", "/v1/orders?limit=-1", "orders", 400, "limit")
	get("OrdersLimitHuge", "/v1/orders?limit=501", "orders", 400, "limit")
	get("OrdersLimitExponent", "/v1/orders?limit=1e2", "orders", 400, "limit")
	get("OrdersLimitOverflow", "/v1/orders?limit=99999999999999999999", "orders", 400, "limit")
	get("OrdersCursorForged", "/v1/orders?cursor="+esc("bm9wZQ"), "orders", 400, "cursor")
	get("OrdersCursorNotBase64", "/v1/orders?cursor=%FF%FE", "orders", 400, "cursor")
	get("OrdersCreatedSinceNotATime", "/v1/orders?created_since=yesterday", "orders", 400, "created_since")
	get("OrdersCreatedUntilInvalidUTF8", "/v1/orders?created_until=%FF", "orders", 400, "created_until")
	get("OrdersUnknownParameter", "/v1/orders?colour=red", "orders", 400, "colour")
	get("StoresNearNaN", "/v1/stores?near=NaN,121.4", "orders", 400, "near")
	get("StoresNearInfinity", "/v1/stores?near=31.2,Inf", "orders", 400, "near")
	get("StoresNearOverflow", "/v1/stores?near=1e999,121.4", "orders", 400, "near")
	get("StoresNearLatOutOfRange", "/v1/stores?near=91,121.4", "orders", 400, "near")
	get("StoresNearLonOutOfRange", "/v1/stores?near=31.2,-180.5", "orders", 400, "near")
	get("StoresNearOneNumber", "/v1/stores?near=31.2", "orders", 400, "near")
	get("StoresNearThreeNumbers", "/v1/stores?near="+esc("31.2,121.4,5"), "orders", 400, "near")
	get("StoresRadiusZero", "/v1/stores?near=31.2,121.4&radius_m=0", "orders", 400, "radius_m")
	get("StoresRadiusNegative", "/v1/stores?near=31.2,121.4&radius_m=-5", "orders", 400, "radius_m")
	get("StoresRadiusNaN", "/v1/stores?near=31.2,121.4&radius_m=NaN", "orders", 400, "radius_m")
	get("StoresRadiusHuge", "/v1/stores?near=31.2,121.4&radius_m=1e999", "orders", 400, "radius_m")
	get("StoresRadiusWithoutNear", "/v1/stores?radius_m=500", "orders", 400, "near")
	get("StoresUnknownParameter", "/v1/stores?colour=red", "orders", 400, "colour")
	get("CouriersStatusUnknown", "/v1/couriers?status=napping", "admin", 400, "status")
	get("CouriersUnknownParameter", "/v1/couriers?limit=5", "admin", 400, "limit")
	for _, path := range []string{"/v1/events", "/v1/courier/stream"} {
		role := "orders"
		if strings.Contains(path, "courier") {
			role = "courier"
		}
		for _, v := range []string{"x", "-1", "1.5", "99999999999999999999", "9223372036854775808"} {
			get("LastEventID"+v+path, path, role, 400, "Last-Event-ID", "Last-Event-ID", v)
		}
	}
	return cases
}

// TestBadInputCatalogue sends every case of the catalogue and checks the answer (status, the JSON error body, the
// field named) and that the daemon's state did not change.
func TestBadInputCatalogue(t *testing.T) {
	f := newFixture(t)
	tokens := map[string]string{"admin": adminToken, "orders": f.key, "courier": f.riders["a"]}
	client := &http.Client{Timeout: 20 * time.Second} // a case that wrongly opened a stream ends instead of hanging
	cases := specificCases(f.order, time.Now())
	for _, e := range bodyEndpoints(f.order) {
		cases = append(cases, genericCases(e)...)
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		name := tc.method + " " + tc.path + " " + tc.name
		if len(name) > 120 {
			name = name[:120]
		}
		if seen[name] {
			t.Fatalf("two cases named %q", name)
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			before := stateOf(t, f.d)
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, f.srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tokens[tc.role])
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e errorBody
			if err := json.Unmarshal(got, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%d %.300q: not the JSON error body", resp.StatusCode, got)
			}
			if resp.StatusCode != tc.status || e.Error.Field != tc.field || statusOf[e.Error.Code] != resp.StatusCode {
				t.Fatalf("%d %s on %q: %.300s\nwant %d on %q", resp.StatusCode, e.Error.Code, e.Error.Field, got, tc.status, tc.field)
			}
			if after := stateOf(t, f.d); after != before {
				t.Fatalf("the state changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	// The cases are refusals because of what is bad in them: the same endpoints take their valid bodies.
	// Backwards, so that the order is accepted before it is cancelled.
	for _, e := range slices.Backward(bodyEndpoints(f.order)) {
		value := `"ok"`
		switch e.key {
		case "url":
			value = `"http://127.0.0.1:9/hook"`
		case "status":
			value = `"online"`
		case "at":
			value = `"` + time.Now().UTC().Format(time.RFC3339) + `"`
		case "courier_id":
			value = `"b"`
		}
		if status, b := f.call(e.method, e.path, tokens[e.role], e.with(value)); status >= 300 {
			t.Errorf("%s %s with a valid body: %d %s", e.method, e.path, status, b)
		}
	}
}

// stateOf is everything the daemon's state shows, as JSON: the journal position (every acknowledged change moves
// it), the last event, and every order, store, courier, route, key and webhook. Positions reach the loop without a
// reply, so it first makes a few round trips through the loop for any queued position to land.
func stateOf(t *testing.T, d *daemon.Daemon) string {
	t.Helper()
	for range 3 {
		if _, err := d.Quote(context.Background(), service.OrderInput{StoreID: "no-such-store", Dropoff: service.Location{Lat: 1, Lon: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	v := d.View()
	var orders []*service.Order
	for f := (service.OrderFilter{Limit: 500}); ; {
		page, more := v.ListOrders(f)
		orders = append(orders, page...)
		if !more {
			break
		}
		f.After = service.OrderCursor{CreatedAt: page[len(page)-1].CreatedAt, ID: page[len(page)-1].ID}
	}
	couriers := v.Couriers("")
	routes := map[string]*service.Route{}
	for _, c := range couriers {
		routes[c.ID], _ = v.Route(c.ID)
	}
	b, err := json.Marshal(map[string]any{
		"seq": v.Seq(), "last_event": d.LastEventID(), "orders": orders, "stores": v.Stores(), "couriers": couriers,
		"routes": routes, "keys": v.APIKeys(), "webhooks": v.(*daemon.View).Webhooks(), "orders_by_status": v.OrdersByStatus(),
		"couriers_by_status": v.CouriersByStatus(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
