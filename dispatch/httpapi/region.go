package httpapi

import (
	"net/url"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// regionParam is the ?region= filter of a listing ("" when absent); a bad name is a 422 naming region.
func regionParam(q url.Values) (string, error) {
	v := q.Get("region")
	if v == "" {
		if _, given := q["region"]; given {
			return "", service.CheckRegion(v)
		}
		return "", nil
	}
	return v, service.CheckRegion(v)
}

func storeRegion(s *service.Store) string     { return s.Region }
func courierRegion(c *service.Courier) string { return c.Region }

// inRegion keeps the entries of list in region: a new slice, or list itself when region is empty.
func inRegion[T any](list []*T, region string, of func(*T) string) []*T {
	if region == "" {
		return list
	}
	out := make([]*T, 0, len(list))
	for _, x := range list {
		if of(x) == region {
			out = append(out, x)
		}
	}
	return out
}
