package geo

import (
	"fmt"
	"strconv"
	"strings"
)

// Profile is a vehicle profile: how a courier moves, which decides its speed.
//
// Its text form (foot, bike, ebike, scooter, car) is what configuration files
// and the API use; the numeric value is only an array index and is not stable
// across versions, so persist the text form.
type Profile uint8

// The vehicle profiles, slowest first.
const (
	Foot    Profile = iota // walking
	Bike                   // pedal bicycle
	EBike                  // pedal-assist electric bicycle
	Scooter                // moped or electric scooter
	Car                    // car or van
)

// NumProfiles is the number of defined profiles; valid values are 0 to
// NumProfiles-1, so it sizes per-profile arrays such as [StraightLine.SpeedMPS].
const NumProfiles = 5

// allowedProfiles lists the text forms for error messages.
const allowedProfiles = "foot, bike, ebike, scooter, car"

// ParseProfile returns the profile named s: one of "foot", "bike", "ebike",
// "scooter" or "car". Case is ignored, since operators type these by hand.
func ParseProfile(s string) (Profile, error) {
	for p := Profile(0); p < NumProfiles; p++ {
		if strings.EqualFold(s, p.String()) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("geo: unknown vehicle profile %q (allowed: %s)", s, allowedProfiles)
}

// String returns the profile's name, or "Profile(N)" for an undefined value so
// that a corrupt value is visible in logs rather than silently renamed.
func (p Profile) String() string {
	switch p {
	case Foot:
		return "foot"
	case Bike:
		return "bike"
	case EBike:
		return "ebike"
	case Scooter:
		return "scooter"
	case Car:
		return "car"
	}
	return "Profile(" + strconv.Itoa(int(p)) + ")"
}

// Valid reports whether p is one of the defined profiles.
func (p Profile) Valid() bool { return p < NumProfiles }

// MarshalText implements encoding.TextMarshaler with the profile's name. It
// fails for an undefined value instead of writing a name nothing can read back.
func (p Profile) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("geo: cannot marshal undefined vehicle profile %d (allowed: %s)", uint8(p), allowedProfiles)
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler, accepting what
// [ParseProfile] accepts. On error *p is left unchanged.
func (p *Profile) UnmarshalText(b []byte) error {
	v, err := ParseProfile(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
