package geo_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/o2o-dispatch/dispatchd/geo"
)

func TestProfileRoundTrip(t *testing.T) {
	names := []string{"foot", "bike", "ebike", "scooter", "car"}
	if len(names) != geo.NumProfiles {
		t.Fatalf("test lists %d names, NumProfiles = %d", len(names), geo.NumProfiles)
	}
	for i, name := range names {
		p, err := geo.ParseProfile(name)
		if err != nil {
			t.Fatalf("ParseProfile(%q): %v", name, err)
		}
		if p != geo.Profile(i) {
			t.Errorf("ParseProfile(%q) = %d, want %d", name, p, i)
		}
		if p.String() != name {
			t.Errorf("Profile(%d).String() = %q, want %q", i, p, name)
		}
		text, err := p.MarshalText()
		if err != nil || string(text) != name {
			t.Errorf("MarshalText(%v) = %q, %v", p, text, err)
		}
		var back geo.Profile
		if err := back.UnmarshalText(text); err != nil || back != p {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, p)
		}
	}
	if p, err := geo.ParseProfile("EBike"); err != nil || p != geo.EBike {
		t.Errorf(`ParseProfile("EBike") = %v, %v; want ebike (case is ignored)`, p, err)
	}
}

func TestProfileErrors(t *testing.T) {
	for _, s := range []string{"", "truck", "e-bike", " bike", "Profile(2)"} {
		_, err := geo.ParseProfile(s)
		if err == nil {
			t.Errorf("ParseProfile(%q) succeeded", s)
			continue
		}
		if !strings.Contains(err.Error(), "foot, bike, ebike, scooter, car") {
			t.Errorf("ParseProfile(%q) error %q does not name the allowed values", s, err)
		}
	}
	bad := geo.Profile(geo.NumProfiles)
	if got := bad.String(); got != "Profile(5)" {
		t.Errorf("undefined profile String() = %q", got)
	}
	if _, err := bad.MarshalText(); err == nil {
		t.Error("MarshalText of an undefined profile succeeded")
	}
	p := geo.Car
	if err := p.UnmarshalText([]byte("plane")); err == nil || p != geo.Car {
		t.Errorf("UnmarshalText(plane) = %v and changed the value to %v", err, p)
	}
}

func TestProfileJSON(t *testing.T) {
	type courier struct {
		Vehicle geo.Profile `json:"vehicle"`
	}
	b, err := json.Marshal(courier{geo.Scooter})
	if err != nil || string(b) != `{"vehicle":"scooter"}` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	var c courier
	if err := json.Unmarshal([]byte(`{"vehicle":"bike"}`), &c); err != nil || c.Vehicle != geo.Bike {
		t.Fatalf("json.Unmarshal = %+v, %v", c, err)
	}
	if err := json.Unmarshal([]byte(`{"vehicle":"rocket"}`), &c); err == nil {
		t.Fatal("json.Unmarshal accepted an unknown profile")
	}
}
