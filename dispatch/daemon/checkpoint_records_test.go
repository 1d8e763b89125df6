package daemon

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// fill sets every field of the struct v points to, recursively, to a value that is not its zero, so that a
// conversion that forgets a field loses something a comparison sees.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(`{"x":1}`))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k)
		fill(t, e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("s")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Uint8:
		v.SetUint(7)
	case reflect.Float64, reflect.Float32:
		v.SetFloat(1.5)
	default:
		t.Fatalf("fill: no value for a %s", v.Type())
	}
}

// Every field of the views a checkpoint keeps survives the checkpoint's own records: a field added to a view
// without its record would otherwise be lost at the first restart from a checkpoint.
func TestCheckpointRecordsKeepEveryField(t *testing.T) {
	var o service.Order
	fill(t, reflect.ValueOf(&o).Elem())
	if got := orderView(ckptOrder(&o)); !reflect.DeepEqual(got, &o) {
		t.Errorf("order through its checkpoint record:\n got %+v\nwant %+v", got, &o)
	}
	var s service.Store
	fill(t, reflect.ValueOf(&s).Elem())
	s.Inventory = nil // the stock is kept apart (the network holds it), not in the view
	stock := map[string]int{"sku": 3}
	got, gotStock := storeView(ckptStore(&s, stock))
	if !reflect.DeepEqual(got, &s) || !reflect.DeepEqual(gotStock, stock) {
		t.Errorf("store through its checkpoint record:\n got %+v %v\nwant %+v %v", got, gotStock, &s, stock)
	}
	var c service.Courier
	fill(t, reflect.ValueOf(&c).Elem())
	a := courierAux{TokenHash: []byte("h"), OnShift: true, InEngine: true, Location: &service.Location{Lat: 1, Lon: 2},
		LocAt: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), ShiftEnd: time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)}
	gotC, gotA := courierView(ckptCourier(&c, a))
	if !reflect.DeepEqual(gotC, &c) || !reflect.DeepEqual(gotA, a) {
		t.Errorf("courier through its checkpoint record:\n got %+v %+v\nwant %+v %+v", gotC, gotA, &c, a)
	}
}
