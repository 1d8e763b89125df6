package service

import (
	"fmt"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// DefaultRegion is the region of stores and couriers registered without one (and of all data written before
// regions existed).
const DefaultRegion = dispatch.DefaultRegion

// CheckRegion says whether name can be a region: 1 to 64 letters, digits, '-' or '_' (a region names a journal
// stream and a subject in a cluster). The error is a *dispatch.Error of code EInvalid naming the field "region".
func CheckRegion(name string) error {
	if !dispatch.ValidRegion(name) {
		return &dispatch.Error{Code: dispatch.EInvalid, Field: "region",
			Message: fmt.Sprintf("region %.80q: want 1 to 64 letters, digits, '-' or '_'", name)}
	}
	return nil
}
