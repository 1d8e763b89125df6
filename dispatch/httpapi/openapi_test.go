package httpapi

import (
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// openAPIPath is the API's OpenAPI document, relative to this package.
const openAPIPath = "../../docs/openapi.yaml"

// openAPIMethods are the keys of an OpenAPI path item that are operations.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI parses the document into plain maps and slices.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", openAPIPath, err)
	}
	return doc
}

// documentedOperations returns the document's operations as "METHOD /path" mapped to the operation object.
func documentedOperations(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("the document has no paths")
	}
	ops := map[string]map[string]any{}
	for path, item := range paths {
		m, ok := item.(map[string]any)
		if !ok {
			t.Errorf("path %s is not an object", path)
			continue
		}
		for key, v := range m {
			if !slices.Contains(openAPIMethods, key) {
				continue
			}
			op, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s %s is not an object", key, path)
				continue
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return ops
}

// registeredPatterns returns the routes the server registers, the catch-all excepted. Metrics are configured so
// that GET /metrics, which is registered only when there is a metrics handler, is among them.
func registeredPatterns() []string {
	s := New(nil, Config{AdminToken: "x-admin-token-for-tests", Metrics: http.NotFoundHandler()})
	var out []string
	for _, p := range s.patterns {
		if p != "/" {
			out = append(out, p)
		}
	}
	return out
}

// TestOpenAPIRoutes holds the document's paths to the routes registered by routes(), in both directions.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := documentedOperations(t, doc)
	registered := registeredPatterns()
	if len(registered) == 0 {
		t.Fatal("no routes registered")
	}
	t.Run("RegisteredAreDocumented", func(t *testing.T) {
		for _, p := range registered {
			method, path, ok := strings.Cut(p, " ")
			if !ok {
				t.Errorf("route %q has no method", p)
				continue
			}
			if _, ok := ops[method+" "+path]; !ok {
				t.Errorf("route %q is not documented: add %s under paths.%s", p, strings.ToLower(method), path)
			}
		}
	})
	t.Run("DocumentedAreRegistered", func(t *testing.T) {
		for op := range ops {
			if !slices.Contains(registered, op) {
				t.Errorf("operation %q is documented but not registered", op)
			}
		}
	})
	t.Run("MetricsOnlyWithAHandler", func(t *testing.T) {
		s := New(nil, Config{AdminToken: "x-admin-token-for-tests"})
		if slices.Contains(s.patterns, "GET /metrics") {
			t.Error("GET /metrics is registered without a metrics handler; the document says it then is not")
		}
	})
}

// TestOpenAPIOperations checks every operation's id, success response and roles, and that every $ref resolves.
func TestOpenAPIOperations(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi is %q, want 3.1.x", v)
	}
	ops := documentedOperations(t, doc)
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ids := map[string]string{}
	for _, k := range keys {
		op := ops[k]
		t.Run(k, func(t *testing.T) {
			id, _ := op["operationId"].(string)
			switch {
			case id == "":
				t.Error("no operationId")
			case ids[id] != "":
				t.Errorf("operationId %q is also used by %s", id, ids[id])
			default:
				ids[id] = k
			}
			if s, _ := op["summary"].(string); s == "" {
				t.Error("no summary")
			}
			if roles, _ := op["x-roles"].([]any); len(roles) == 0 {
				t.Error("no x-roles")
			}
			if _, ok := op["security"]; !ok {
				t.Error("no security requirement")
			}
			responses, _ := op["responses"].(map[string]any)
			ok2xx := false
			for code := range responses {
				if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 300 {
					ok2xx = true
				}
			}
			if !ok2xx {
				t.Error("no 2xx response")
			}
		})
	}
	t.Run("RefsResolve", func(t *testing.T) {
		n := 0
		walkRefs(doc, "#", func(at, ref string) {
			n++
			if !strings.HasPrefix(ref, "#/components/") {
				t.Errorf("%s: $ref %q does not point into components", at, ref)
				return
			}
			if v, err := resolveRef(doc, ref); err != nil {
				t.Errorf("%s: $ref %q: %v", at, ref, err)
			} else if _, ok := v.(map[string]any); !ok {
				t.Errorf("%s: $ref %q is not an object", at, ref)
			}
		})
		if n == 0 {
			t.Error("no $ref found: the walk is broken")
		}
	})
	t.Run("PathParameters", func(t *testing.T) {
		for _, k := range keys {
			_, path, _ := strings.Cut(k, " ")
			var want []string
			for _, seg := range strings.Split(path, "/") {
				if name, ok := strings.CutPrefix(seg, "{"); ok {
					want = append(want, strings.TrimSuffix(name, "}"))
				}
			}
			var got []string
			params, _ := ops[k]["parameters"].([]any)
			for _, p := range params {
				m, _ := p.(map[string]any)
				if ref, ok := m["$ref"].(string); ok {
					v, err := resolveRef(doc, ref)
					if err != nil {
						continue // reported by RefsResolve
					}
					m, _ = v.(map[string]any)
				}
				if m["in"] == "path" {
					name, _ := m["name"].(string)
					got = append(got, name)
					if m["required"] != true {
						t.Errorf("%s: path parameter %q is not required", k, name)
					}
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: path parameters %v, the path has %v", k, got, want)
			}
		}
	})
}

// walkRefs calls fn for every $ref in v, with a JSON pointer to where it is.
func walkRefs(v any, at string, fn func(at, ref string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "$ref" {
				ref, _ := x.(string)
				fn(at, ref)
				continue
			}
			walkRefs(x, at+"/"+escapePointer(k), fn)
		}
	case []any:
		for i, x := range v {
			walkRefs(x, at+"/"+strconv.Itoa(i), fn)
		}
	}
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// resolveRef follows a local reference ("#/components/schemas/OrderView") in doc.
func resolveRef(doc map[string]any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("only local references are allowed")
	}
	var cur any = doc
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("no %q", tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("no element %q", tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("%q is below a scalar", tok)
		}
	}
	return cur, nil
}

// jsonFields returns the JSON names of a struct's fields, as encoding/json writes them.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// omitted reports whether a struct field's JSON name is left out of the output when empty.
func omitted(t reflect.Type, name string) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		tagName, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tagName == name {
			return strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		}
	}
	return false
}

// TestOpenAPIViews holds the response schemas to the Go views: the same JSON fields, and a field is required
// exactly when the view always writes it.
func TestOpenAPIViews(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)
	if schemas == nil {
		t.Fatal("the document has no components.schemas")
	}
	views := map[string]reflect.Type{
		"OrderView":      reflect.TypeFor[service.Order](),
		"StoreView":      reflect.TypeFor[service.Store](),
		"CourierView":    reflect.TypeFor[service.Courier](),
		"RouteView":      reflect.TypeFor[service.Route](),
		"StopView":       reflect.TypeFor[service.Stop](),
		"QuoteView":      reflect.TypeFor[service.Quote](),
		"OrderEvent":     reflect.TypeFor[service.OrderEvent](),
		"WebhookView":    reflect.TypeFor[service.Webhook](),
		"APIKey":         reflect.TypeFor[service.APIKey](),
		"Location":       reflect.TypeFor[service.Location](),
		"ETA":            reflect.TypeFor[service.ETA](),
		"TimelineEntry":  reflect.TypeFor[service.TimelineEntry](),
		"MovesView":      reflect.TypeFor[movesView](),
		"OffShiftResult": reflect.TypeFor[service.OffShiftResult](),
		"Plan":           reflect.TypeFor[planView](),
		"PlanRoute":      reflect.TypeFor[planRouteView](),
		"PlanStop":       reflect.TypeFor[planStopView](),
		"PlanBreakTime":  reflect.TypeFor[planBreakView](),
		"PlanUnassigned": reflect.TypeFor[planUnassigned](),
		"ClusterStatus":  reflect.TypeFor[service.ClusterStatus](),
		"ClusterNode":    reflect.TypeFor[service.ClusterNode](),
		"ClusterRegion":  reflect.TypeFor[service.ClusterRegion](),
		"ClusterJournal": reflect.TypeFor[service.ClusterJournal](),
		"ClusterReplica": reflect.TypeFor[service.ClusterReplica](),
	}
	for name, typ := range views {
		t.Run(name, func(t *testing.T) {
			schema, _ := schemas[name].(map[string]any)
			if schema == nil {
				t.Fatalf("no schema %s", name)
			}
			props, _ := schema["properties"].(map[string]any)
			var documented []string
			for p := range props {
				documented = append(documented, p)
			}
			sort.Strings(documented)
			want := jsonFields(typ)
			for _, f := range want {
				if !slices.Contains(documented, f) {
					t.Errorf("field %q of %s is not documented", f, typ)
				}
			}
			for _, f := range documented {
				if !slices.Contains(want, f) {
					t.Errorf("documented field %q is not in %s", f, typ)
				}
			}
			required, _ := schema["required"].([]any)
			for _, f := range want {
				isRequired := slices.Contains(required, any(f))
				if om := omitted(typ, f); om && isRequired {
					t.Errorf("field %q is omitempty but required", f)
				} else if !om && !isRequired {
					t.Errorf("field %q is always written but not required", f)
				}
			}
		})
	}
}

// TestOpenAPIRequests holds the request schemas to the structs the handlers decode into: the same JSON fields,
// and additionalProperties false since decode rejects unknown fields. It also holds the Error schema to the error
// body and its code enum to the table of statuses.
func TestOpenAPIRequests(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)
	requests := map[string]reflect.Type{
		"OrderRequest":       reflect.TypeFor[orderBody](),
		"LocationInput":      reflect.TypeFor[locationBody](),
		"StoreRequest":       reflect.TypeFor[storeBody](),
		"CourierRequest":     reflect.TypeFor[courierBody](),
		"APIKeyRequest":      reflect.TypeFor[keyBody](),
		"ReasonRequest":      reflect.TypeFor[reasonBody](),
		"AssignRequest":      reflect.TypeFor[assignBody](),
		"MoveRequest":        reflect.TypeFor[moveBody](),
		"ShiftRequest":       reflect.TypeFor[shiftBody](),
		"LocationReport":     reflect.TypeFor[locationReport](),
		"LocationBatch":      reflect.TypeFor[locationBatch](),
		"WebhookRequest":     reflect.TypeFor[webhookBody](),
		"LocationBatchEntry": reflect.TypeFor[locationBatchEntry](),
		"PlanRequest":        reflect.TypeFor[planBody](),
		"PlanVehicle":        reflect.TypeFor[planVehicle](),
		"PlanBreak":          reflect.TypeFor[planBreak](),
		"PlanShipment":       reflect.TypeFor[planShip](),
		"PlanTask":           reflect.TypeFor[planTask](),
	}
	for name, typ := range requests {
		t.Run(name, func(t *testing.T) {
			schema, _ := schemas[name].(map[string]any)
			if schema == nil {
				t.Fatalf("no schema %s", name)
			}
			if ap, ok := schema["additionalProperties"].(bool); !ok || ap {
				t.Error("additionalProperties must be false: unknown fields are rejected")
			}
			props, _ := schema["properties"].(map[string]any)
			want := jsonFields(typ)
			for _, f := range want {
				if _, ok := props[f]; !ok {
					t.Errorf("field %q of %s is not documented", f, typ)
				}
			}
			for f := range props {
				if !slices.Contains(want, f) {
					t.Errorf("documented field %q is not in %s", f, typ)
				}
			}
		})
	}
	t.Run("Error", func(t *testing.T) {
		errSchema, _ := schemas["Error"].(map[string]any)
		props, _ := errSchema["properties"].(map[string]any)
		inner, _ := props["error"].(map[string]any)
		innerProps, _ := inner["properties"].(map[string]any)
		var documented []string
		for f := range innerProps {
			documented = append(documented, f)
		}
		sort.Strings(documented)
		if want := jsonFields(reflect.TypeFor[errorDetail]()); !slices.Equal(documented, want) {
			t.Errorf("Error.error has fields %v, the error body %v", documented, want)
		}
		code, _ := innerProps["code"].(map[string]any)
		enum, _ := code["enum"].([]any)
		for c := range statusOf {
			if !slices.Contains(enum, any(string(c))) {
				t.Errorf("error code %q is not in the Error schema's enum", c)
			}
		}
	})
}
