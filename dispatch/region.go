package dispatch

// DefaultRegion is the region of a store or courier registered without one, and of everything in state written
// before regions existed.
const DefaultRegion = "default"

// MaxRegionLen is the longest region name.
const MaxRegionLen = 64

// ValidRegion reports whether name can name a region: 1 to 64 ASCII letters, digits, '-' or '_' (a region names a
// journal stream and a subject in a cluster, so the rule is theirs).
func ValidRegion(name string) bool {
	if name == "" || len(name) > MaxRegionLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// regionOf is a region as given, the empty name read as DefaultRegion; field names it in the error when it is not
// a valid name.
func regionOf(field, name string) (string, *Error) {
	if name == "" {
		return DefaultRegion, nil
	}
	if !ValidRegion(name) {
		return "", invalid(field, "region %q: want 1 to 64 letters, digits, '-' or '_'", name)
	}
	return name, nil
}

// savedRegion is a region as a State keeps it: empty for DefaultRegion, so that states written before regions
// existed and states of an engine that never used them read alike.
func savedRegion(r string) string {
	if r == DefaultRegion {
		return ""
	}
	return r
}

// carries reports whether courier c may carry orders of region r: a courier only ever carries orders of its own
// region. Every place that offers an order to a courier checks it beside the skills.
func (c *courierState) carries(region string) bool { return c.spec.Region == region }
